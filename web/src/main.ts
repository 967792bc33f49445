/**
 * The playground's entry: reads the settings from the URL, starts the requested backend (showing which
 * one runs and why), wires the three views (Newton–Schulz step by step, the optimizer race, the spectra
 * of the updates) to tabs, and mirrors every change back into the address bar. `globalThis.playground`
 * exposes the state to the browser tests (test/browser/playground.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { startBackend, type BackendStatus } from './backend.js';
import { backends, formatSettings, parseSettings, views, type BackendName, type Settings, type View } from './settings.js';
import { NsView } from './nsView.js';
import { RaceView } from './raceView.js';
import { SpectraView } from './spectraView.js';
import { RaceController } from './raceController.js';
import { h } from './dom.js';

/** What the views share: the settings (written to the URL on every change) and the backend. */
export interface App {
  settings: Settings;
  backend: BackendStatus | null;
  readonly race: RaceController;
  /** Merges `patch` into the settings and writes the URL. */
  update(patch: Partial<Settings>): void;
}

export interface View3 {
  show(): void;
  hide(): void;
  /** The backend changed: drop tensors made on the old one and recompute. */
  reset(): void;
}

const initial = parseSettings(location.search);

const rejectedEl = document.getElementById('rejected')!;
if (initial.rejected.length > 0) {
  rejectedEl.hidden = false;
  rejectedEl.textContent = `Ignored (unknown or out of range, defaults used): ${initial.rejected.join(', ')}`;
}

const app: App = {
  settings: initial.settings,
  backend: null,
  race: undefined as unknown as RaceController,
  update(patch) {
    app.settings = { ...app.settings, ...patch };
    history.replaceState(null, '', `${location.pathname}${formatSettings(app.settings)}`);
  },
};
(app as { race: RaceController }).race = new RaceController(app);

const backendSelect = document.getElementById('backend') as HTMLSelectElement;
const backendStatus = document.getElementById('backend-status')!;

async function applyBackend(name: BackendName): Promise<void> {
  backendSelect.disabled = true;
  backendStatus.textContent = `starting ${name}…`;
  const status = await startBackend(name);
  app.backend = status;
  backendSelect.replaceChildren(...backends.map((b) => h('option', { value: b, disabled: !status.available.includes(b) }, b === 'webgpu' && !status.available.includes(b) ? 'webgpu (no adapter)' : b)));
  backendSelect.value = name;
  backendStatus.replaceChildren('running: ', h('b', { 'data-running': status.running }, status.running), status.note === '' ? '' : ` — ${status.note}`);
  backendSelect.disabled = false;
}

const panels: Record<View, View3> = {
  ns: new NsView(app, document.getElementById('view-ns')!),
  race: new RaceView(app, document.getElementById('view-race')!),
  spectra: new SpectraView(app, document.getElementById('view-spectra')!),
};

const tabs = [...document.querySelectorAll<HTMLButtonElement>('.tabs button')];

function showView(view: View): void {
  app.update({ view });
  for (const t of tabs) {
    const on = t.dataset.view === view;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
  }
  for (const v of views) {
    const panel = document.getElementById(`view-${v}`)!;
    panel.hidden = v !== view;
    if (v === view) panels[v].show();
    else panels[v].hide();
  }
}

for (const t of tabs) {
  t.addEventListener('click', () => showView(t.dataset.view as View));
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
  t.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(t);
    const next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? tabs.length - 1 : null;
    if (next === null) return;
    e.preventDefault();
    const target = tabs[(next + tabs.length) % tabs.length];
    target.focus();
    showView(target.dataset.view as View);
  });
}

backendSelect.addEventListener('change', () => {
  void (async () => {
    const name = backendSelect.value as BackendName;
    app.race.pause();
    app.update({ backend: name });
    await applyBackend(name);
    app.race.dispose();
    for (const v of views) panels[v].reset();
    panels[app.settings.view].show();
  })();
});

/** The state the browser tests read. */
const hook = {
  ready: false,
  get settings(): Settings {
    return app.settings;
  },
  get backend(): BackendStatus | null {
    return app.backend;
  },
  ns: panels.ns as NsView,
  spectra: panels.spectra as SpectraView,
  raceView: panels.race as RaceView,
  race: app.race,
  numTensors: () => tf.memory().numTensors,
  show: showView,
};
(globalThis as unknown as { playground: typeof hook }).playground = hook;

void (async () => {
  await applyBackend(app.settings.backend);
  showView(app.settings.view);
  hook.ready = true;
})();
