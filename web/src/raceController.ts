/**
 * Runs the race for the race and spectra views: makes a {@link Race} from the settings (data set,
 * racers, learning rates, batch, seed) on demand, steps it while playing (one step of every racer per
 * frame), and tells subscribers after each step. Changing a setting of the race starts a new race from
 * the same initialization and batches.
 */
import { loadDataset, type Dataset } from './data.js';
import { Race } from './raceCore.js';
import type { App } from './main.js';

/** Steps after which a playing race pauses by itself. */
export const maxSteps = 3000;

export class RaceController {
  race: Race | null = null;
  data: Dataset | null = null;
  playing = false;
  /** Last error (e.g. a data set that failed to load), shown by the views. */
  error: string | null = null;
  private building: Promise<Race> | null = null;
  private readonly listeners = new Set<() => void>();
  private loop: Promise<void> | null = null;

  constructor(private readonly app: App) {}

  /** Calls `fn` after every step, reset and play/pause change; returns the unsubscribe. */
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private notify(): void {
    for (const fn of this.listeners) fn();
  }

  /** The current race, made from the settings when there is none. */
  async ensure(): Promise<Race> {
    if (this.race !== null) return this.race;
    if (this.building !== null) return this.building;
    this.building = (async () => {
      const s = this.app.settings;
      try {
        if (this.data === null || this.data.name !== s.data) this.data = await loadDataset(s.data, s.seed);
        const race = new Race(this.data, s.racers, s.lr, s.batch, s.seed);
        this.race = race;
        this.error = null;
        return race;
      } catch (e) {
        this.error = `${(e as Error).name}: ${(e as Error).message}`;
        throw e;
      } finally {
        this.building = null;
      }
    })();
    const race = await this.building;
    this.notify();
    return race;
  }

  /** Throws the race away (a setting changed, or the backend); `rebuild` makes the next one at once. */
  async reset(rebuild = true): Promise<void> {
    this.pause();
    await this.loop;
    if (this.building !== null) await this.building.catch(() => undefined);
    this.race?.dispose();
    this.race = null;
    if (rebuild) await this.ensure();
    else this.notify();
  }

  /** Disposes the race and forgets the data (backend change). */
  dispose(): void {
    this.pause();
    this.race?.dispose();
    this.race = null;
  }

  /** Advances every racer `n` steps (the tests' entry and the Step button). */
  async steps(n: number): Promise<void> {
    this.pause();
    await this.loop;
    const race = await this.ensure();
    for (let i = 0; i < n; i++) {
      await race.advance();
      this.notify();
    }
  }

  play(): void {
    if (this.playing) return;
    this.playing = true;
    this.notify();
    this.loop = (async () => {
      const race = await this.ensure();
      while (this.playing && race === this.race && race.step < maxSteps) {
        await race.advance();
        this.notify();
        await new Promise((ok) => requestAnimationFrame(ok));
      }
      this.playing = false;
      this.notify();
    })();
  }

  pause(): void {
    if (!this.playing) return;
    this.playing = false;
    this.notify();
  }
}
