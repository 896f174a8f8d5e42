import { metrics } from '../metrics.js';

/**
 * Holds the rate of admitted commands where their latency stays near the unloaded one.
 *
 * Why a rate and not only a concurrency limit: past its capacity the machine is the bottleneck (the
 * service, Postgres, NATS and Redis share its cores), and a command's latency is made mostly of waiting
 * for them. Fewer commands in flight do not make that machine less busy (at 2-3 ms a command, two in
 * flight already reach the peak), so the admitted commands wait as long; only admitting fewer per second
 * does. This is AIMD on the admitted rate, as TCP does on its window, with the latency as the signal
 * (as Netflix's concurrency-limits and Envoy's adaptive concurrency do):
 *
 * - Each window (`windowMs`) with enough commands, the p90 of their latency (queue wait included) is
 *   compared with `tolerance` × the baseline, the lowest window p90 of the last minute.
 * - Over it, with the median past half of that too (a pause that slows a few commands is not an
 *   overload) and, to start, as many commands at once as `minConcurrency` (few slow commands are slow
 *   for another reason, which refusing would not cure): the rate is set to 85 % of what the window
 *   finished, or of what it admitted if fewer (then 85 % of the rate, until it bites; a command admitted
 *   before a cut does not judge the cut rate), and commands beyond it are refused (a token bucket holding
 *   a tenth of a second of the rate).
 * - Under it, while the rate is in use: the rate grows by 3 % a window; once nothing was refused for two
 *   seconds, the governor lets go (no rate at all).
 * - While it governs, one window in every `probeEveryMs` admits a quarter of the rate, so the baseline is
 *   measured again near no load: without it a long overload would make its own latency the baseline.
 *
 * Off (tolerance 0), it admits everything. It adds no timer: the window closes on the next command.
 */
export interface RateGovernorOptions {
  /** How many times the baseline (the lowest window p90 of the last minute) a window's p90 may reach; 0 is off. */
  tolerance: number;
  windowMs?: number;
  probeEveryMs?: number;
  /** The lowest rate it ever sets, per second. */
  minRate?: number;
  /**
   * Commands in the process at once (running and queued) that a window must have reached for the governor
   * to start: slow commands with few of them at once are slow for another reason (a busy database, a
   * neighbour on the machine) that refusing would not cure. 0: no such condition.
   */
  minConcurrency?: number;
  now?: () => number;
}

const MIN_SAMPLES = 20;
/**
 * The burst the rate allows, in seconds of it: a tenth. Half a second let 150 commands in at once at a
 * rate of 300/s, which the machine took over 100 ms to get through (the first second of an overload).
 */
const BURST_SECONDS = 0.1;
const BASELINE_WINDOWS_MS = 60_000;

export class RateGovernor {
  private readonly windowMs: number;
  private readonly probeEveryMs: number;
  private readonly minRate: number;
  private readonly now: () => number;
  /** Admitted per second while governing; Infinity when it is not. */
  private rate = Infinity;
  private tokens = 0;
  private tokensAt = 0;
  private windowStart: number;
  private samples: number[] = [];
  private admittedInWindow = 0;
  private refusedInWindow = 0;
  /** The most commands in the process at once this window, as `admit` was told. */
  private peakConcurrency = 0;
  /** Requests the HTTP server saw this window, before its early refusal (0 when nothing reports them). */
  private arrivals = 0;
  private lastRefusalAt = -Infinity;
  /** When the rate was last cut: commands admitted before it do not judge the cut rate. */
  private cutAt = -Infinity;
  /** Window p90s of the last minute, with when they were taken. */
  private p90s: { at: number; ms: number }[] = [];
  /** The share of new requests the HTTP server lets through to be parsed while governing (1 - its refusal share). */
  private pass = 1;
  private probeUntil = -Infinity;
  private nextProbeAt = Infinity;

  constructor(private readonly options: RateGovernorOptions) {
    this.windowMs = options.windowMs ?? 250;
    this.probeEveryMs = options.probeEveryMs ?? 30_000;
    this.minRate = options.minRate ?? 10;
    this.now = options.now ?? (() => performance.now());
    this.windowStart = this.now();
  }

  /** The rate it holds commands to, per second (Infinity when it does not). */
  get limit(): number {
    return this.rate;
  }

  /**
   * The share of new requests the HTTP server should refuse before parsing them: while governing, what
   * brings the commands that reach the admission to about 10 % over the rate (so that it still sees, and
   * refuses, a few), instead of parsing every request only to refuse most of them.
   */
  get shedShare(): number {
    return 1 - this.pass;
  }

  /**
   * While it governs, the latency it holds commands to (tolerance × baseline), in ms; undefined while it
   * does not. The admission refuses a queued command that waited longer (src/commands/admission.ts).
   */
  get targetMs(): number | undefined {
    if (this.rate === Infinity || this.options.tolerance <= 0) return undefined;
    const baseline = this.baselineMs;
    return baseline === undefined ? undefined : this.options.tolerance * baseline;
  }

  get baselineMs(): number | undefined {
    return this.p90s.length ? Math.min(...this.p90s.map((m) => m.ms)) : undefined;
  }

  /** Whether a command may start now, with `concurrency` commands in the process (itself included); false means refuse it. */
  admit(concurrency = 0): boolean {
    const now = this.now();
    this.roll(now);
    if (concurrency > this.peakConcurrency) this.peakConcurrency = concurrency;
    if (this.rate === Infinity || this.options.tolerance <= 0) {
      this.admittedInWindow++;
      return true;
    }
    const rate = now < this.probeUntil ? this.rate / 4 : this.rate;
    this.tokens = Math.min(Math.max(1, rate * BURST_SECONDS), this.tokens + ((now - this.tokensAt) * rate) / 1000);
    this.tokensAt = now;
    if (this.tokens >= 1) {
      this.tokens--;
      this.admittedInWindow++;
      return true;
    }
    this.refusedInWindow++;
    this.lastRefusalAt = now;
    return false;
  }

  /**
   * The admission refused a command for another reason (its queue full, a wait too long): the load still
   * exceeds what is admitted, so the governor must not let go. Without it, an overload refused only by the
   * queue for two seconds made it let go, admit everything for a window, and cut again (a 30-80 ms spike).
   */
  noteRefusal(): void {
    if (this.rate !== Infinity) this.lastRefusalAt = this.now();
  }

  /** A request reached the HTTP server (counted before parsing, so the share it sheds can follow arrivals). */
  noteArrival(): void {
    this.arrivals++;
  }

  /** A command admitted by `admit` finished after `ms` (queue wait included). */
  record(ms: number): void {
    // A command admitted before the last cut waited behind what the old rate let in: it says nothing of
    // the new rate, and counting it would cut again for the same overload.
    if (this.options.tolerance > 0 && this.now() - ms >= this.cutAt) this.samples.push(ms);
  }

  private roll(now: number): void {
    // A window closes after windowMs with enough commands to judge, or after four times that regardless;
    // while not governing, as soon as it holds enough (an overload's onset is judged within tens of
    // milliseconds at the rates that make one, not a quarter of a second later: every command admitted
    // before it brings work to the relay and the projectors that what arrives next waits behind).
    const elapsedMs = now - this.windowStart;
    const onset = this.rate === Infinity && this.samples.length >= MIN_SAMPLES && elapsedMs >= this.windowMs / 10;
    if (!onset && (elapsedMs < this.windowMs || (this.samples.length < MIN_SAMPLES && elapsedMs < 4 * this.windowMs))) return;
    const probing = this.windowStart < this.probeUntil;
    this.adjust(now, elapsedMs, probing);
    metrics.commandRateLimit.set(this.rate === Infinity ? 0 : Math.round(this.rate));
    metrics.commandLatencyBaseline.set((this.baselineMs ?? 0) / 1000);
    this.windowStart = now;
    this.samples = [];
    this.admittedInWindow = 0;
    this.refusedInWindow = 0;
    this.arrivals = 0;
    this.peakConcurrency = 0;
  }

  private adjust(now: number, elapsedMs: number, probing: boolean): void {
    if (this.options.tolerance <= 0) return;
    const admittedPerSecond = (this.admittedInWindow * 1000) / elapsedMs;
    // What arrives: counted at the HTTP server before its early refusal where it reports it; else what
    // reached the admission, scaled back by the share let through.
    const reached = ((this.admittedInWindow + this.refusedInWindow) * 1000) / elapsedMs;
    const arrivingPerSecond = this.arrivals > 0 ? (this.arrivals * 1000) / elapsedMs : reached / this.pass;
    this.steerShedding(arrivingPerSecond, probing);
    if (this.samples.length >= MIN_SAMPLES) {
      const sorted = this.samples.sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      const p90 = sorted[Math.floor(sorted.length * 0.9)]!;
      this.p90s = this.p90s.filter((m) => now - m.at < BASELINE_WINDOWS_MS);
      this.p90s.push({ at: now, ms: p90 });
      if (probing) return; // a probe window only measures the baseline
      const baseline = this.baselineMs!;
      const governing = this.rate !== Infinity;
      // Over: the tail past the tolerance and the median past half of it, so that a pause (a garbage
      // collection) that slows a few commands of a window is not taken for an overload.
      const crowded = governing || this.peakConcurrency >= (this.options.minConcurrency ?? 0);
      if (crowded && p90 > this.options.tolerance * baseline && median >= (this.options.tolerance / 2) * baseline) {
        // Starting: 85 % of what the window finished, or of what it admitted if fewer (at an onset more
        // are admitted than the machine finishes: the difference is what queues). Governing: 85 % of the
        // rate, until the cut bites.
        const finishedPerSecond = (this.samples.length * 1000) / elapsedMs;
        this.rate = Math.max(this.minRate, (governing ? this.rate : Math.min(admittedPerSecond, finishedPerSecond)) * 0.85);
        this.tokens = Math.min(this.tokens, this.rate * BURST_SECONDS);
        this.tokensAt = now;
        this.cutAt = now;
        if (!governing) this.nextProbeAt = now + this.probeEveryMs;
        // At once, not a window later, and by as much again as the latency is over: the requests already
        // read wait behind the excess, which only refusing more of what comes next drains.
        this.steerShedding(arrivingPerSecond, false, (this.options.tolerance * baseline) / p90);
        this.lastRefusalAt = now;
        return;
      }
    }
    if (this.rate === Infinity) return;
    // Latency is fine: raise a rate that is in use (what was admitted is near it, or some were refused).
    const inUse = this.refusedInWindow > 0 || admittedPerSecond >= 0.75 * this.rate;
    if (inUse) this.rate *= 1.03;
    // A rate in use while the HTTP server refuses before parsing on the governor's behalf is an overload
    // that goes on, though the admission may see no refusal at all (what the server lets through can fall
    // just under the rate for seconds): letting go then admitted everything for a window, and the cut
    // after it came 30-80 ms late (bench:overload, 2026-12-01 04:20).
    if (inUse && this.pass < 1) this.lastRefusalAt = now;
    if (now - this.lastRefusalAt > 2000) {
      this.rate = Infinity; // the load is gone: let go
      this.pass = 1;
      this.nextProbeAt = Infinity;
      return;
    }
    if (now >= this.nextProbeAt) {
      this.probeUntil = now + this.windowMs * 2;
      this.nextProbeAt = now + this.probeEveryMs;
    }
  }

  /** Lets through to parsing about 1.1 × the rate of what arrives (times `brake`, at most 1). */
  private steerShedding(arrivingPerSecond: number, probing: boolean, brake = 1): void {
    if (this.rate === Infinity) return;
    const target = 1.1 * (probing ? this.rate / 4 : this.rate);
    this.pass = Math.min(1, Math.max(0.02, (target / Math.max(1, arrivingPerSecond)) * Math.min(1, brake)));
  }
}
