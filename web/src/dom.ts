/**
 * The few DOM helpers the views share: an element builder and labelled controls (every control has a
 * <label>, so it is reachable and named for keyboard and screen-reader users).
 */

type Attrs = Record<string, string | number | boolean | undefined>;

/** `h('div', {class: 'card'}, child, 'text')`: an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | null)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null) e.append(c);
  return e;
}

let ids = 0;
/** A fresh element id with a prefix. */
export function uid(prefix: string): string {
  return `${prefix}-${++ids}`;
}

/** A <select> with a label; `onChange` gets the chosen value. */
export function selectControl(label: string, options: readonly (readonly [string, string])[], value: string, onChange: (v: string) => void, id = uid('sel')): { root: HTMLLabelElement; input: HTMLSelectElement } {
  const input = h('select', { id, name: id });
  for (const [v, text] of options) input.append(h('option', { value: v, selected: v === value }, text));
  input.value = value;
  input.addEventListener('change', () => onChange(input.value));
  return { root: h('label', { for: id }, label, input), input };
}

/** An <input type=number> with a label; `onChange` gets the number when it is an integer in range. */
export function numberControl(label: string, value: number, min: number, max: number, onChange: (v: number) => void, id = uid('num')): { root: HTMLLabelElement; input: HTMLInputElement } {
  const input = h('input', { id, name: id, type: 'number', min, max, step: 1, value });
  input.addEventListener('change', () => {
    const v = Number(input.value);
    if (Number.isInteger(v) && v >= min && v <= max) onChange(v);
    else input.value = String(value);
  });
  return { root: h('label', { for: id }, label, input), input };
}

/** A group of checkboxes; `onChange` gets the checked values (at least one stays checked). */
export function checkboxGroup(legend: string, options: readonly (readonly [string, string])[], checked: readonly string[], onChange: (v: string[]) => void, prefix = uid('chk')): { root: HTMLFieldSetElement; inputs: HTMLInputElement[] } {
  const root = h('fieldset', {}, h('legend', {}, legend));
  const inputs: HTMLInputElement[] = [];
  for (const [v, text] of options) {
    const id = `${prefix}-${v}`;
    const input = h('input', { id, type: 'checkbox', value: v, checked: checked.includes(v) });
    inputs.push(input);
    root.append(h('label', { class: 'inline', for: id }, input, text));
  }
  root.addEventListener('change', (ev) => {
    const values = inputs.filter((i) => i.checked).map((i) => i.value);
    if (values.length === 0) {
      (ev.target as HTMLInputElement).checked = true;
      return;
    }
    onChange(values);
  });
  return { root, inputs };
}

/** A button. */
export function button(text: string, onClick: () => void, attrs: Attrs = {}): HTMLButtonElement {
  const b = h('button', { type: 'button', ...attrs }, text);
  b.addEventListener('click', onClick);
  return b;
}

/** A number for tables: 3 significant digits, exponent form when tiny or huge. */
export function fmt(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(digits - 1) : String(Number(v.toPrecision(digits)));
}
