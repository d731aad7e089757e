// The benchmark harness's plugin interface: a workload sets up a side (Roost or the Dovecot baseline), runs one repetition
// of a case returning raw samples, and tears the side down. The harness adds warm-up, interleaving, memory and CPU.
import type { Corpus } from './corpus.js';

export type SideKind = 'roost' | 'baseline';

/** More repetitions a full run gives a case whose repetitions disagree by over 30% (workloads that use up state per run count them in). */
export const EXTRA_REPS_WHEN_NOISY = 4;

export interface BenchOptions {
  quick: boolean;
  /** multiplies the amount of work per repetition */
  scale: number;
  /** measured repetitions per side and case */
  repeat: number;
  /** only these case ids (an investigation run); every case when absent */
  cases?: string[];
}

export interface BenchUser {
  name: string;
  password: string;
  /** The stored form both sides' passwd-files hold ({SCHEME}...); {PLAIN} when absent. */
  passwordHash?: string;
}

/** What a load client needs to reach a running server. */
export interface Endpoints {
  imap?: number;
  pop3?: number;
  lmtp?: number;
  smtp?: number;
  /** Dovecot-compatible auth-client protocol, as a unix socket path or a TCP port */
  authSocket?: string;
  authPort?: number;
}

/** A running server, one side of the comparison. */
export interface Server {
  kind: SideKind;
  /** e.g. "Roost 0.1.0" or "Dovecot 2.3.19.1" */
  label: string;
  endpoints: Endpoints;
  users: BenchUser[];
  /** every process of the server, for PSS and CPU */
  pids(): number[];
  stop(): Promise<void>;
}

/** One point of a workload's parameter space, e.g. "4 KB, 8 connections". */
export interface BenchCase {
  id: string;
  label: string;
  params: Record<string, number | string>;
}

/** What one repetition of a case produced, measured by the load client. */
export interface WorkloadRun {
  /** completed operations (messages delivered, logins, RETRs, auth requests) */
  ops: number;
  /** payload bytes moved, when meaningful */
  bytes: number;
  /** wall-clock seconds of the measured part */
  seconds: number;
  /** per-operation latency in milliseconds */
  latenciesMs: number[];
  /** operations that failed (counted, not part of ops) */
  errors: number;
}

export interface SetupContext {
  options: BenchOptions;
  /** a fresh directory for this side, removed after teardown */
  dir: string;
  /** the shared generated corpus (created or read from bench/cache on first use) */
  corpus(count: number, tailMax?: number): Promise<Corpus>;
  log(message: string): void;
}

export interface Workload {
  name: string;
  description: string;
  /** what one operation is, for the table: "messages", "logins", ... */
  opName: string;
  /** report MB/s besides ops/s */
  reportBytes?: boolean;
  cases(options: BenchOptions): BenchCase[];
  /** Starts one side. Throws SideUnavailable when that side cannot run this workload (yet). */
  setup(kind: SideKind, context: SetupContext): Promise<Server>;
  /** Runs one repetition of a case. `warmup` runs are discarded by the harness. */
  run(server: Server, benchCase: BenchCase, context: { options: BenchOptions; warmup: boolean }): Promise<WorkloadRun>;
  teardown(server: Server): Promise<void>;
}

/** A side that cannot run a workload, with the reason shown in the table instead of figures. */
export class SideUnavailable extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'SideUnavailable';
  }
}
