// Gives the load client and the servers under test their own CPUs (sched_setaffinity through taskset): the client never
// competes with the server it measures, and Roost and the baseline run on the same cores. Nothing is pinned on one CPU.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export interface CpuPlan {
  /** the harness and the client processes it starts */
  client: string;
  /** every process and thread of a server under test */
  servers: string;
}

let plan: CpuPlan | undefined;

/** The CPUs this process may run on, from /proc/self/status ("0-3,6"). */
function allowedCpus(): number[] {
  const line = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  const cpus: number[] = [];
  for (const part of line.split(',')) {
    const [from, to] = part.split('-').map(Number);
    if (from === undefined || !Number.isInteger(from)) continue;
    for (let cpu = from; cpu <= (to ?? from); cpu++) cpus.push(cpu);
  }
  return cpus;
}

function setAffinity(pid: number, cpus: string): void {
  try {
    // -a: every thread of the process (Roost's worker threads, libuv's pool); children forked later inherit it.
    execFileSync('taskset', ['-a', '-pc', cpus, String(pid)], { stdio: 'ignore' });
  } catch (err) {
    // A process that has exited meanwhile needs no pinning; any other failure leaves it unpinned, which the log says.
    if (existsSync(`/proc/${pid}`)) process.stderr.write(`bench: could not pin process ${pid} to CPU ${cpus}: ${(err as Error).message.split('\n')[0]}\n`);
  }
}

/** Pins the harness to the first allowed CPU and keeps the rest for servers; returns the plan, or undefined on one CPU. */
export function pinHarness(): CpuPlan | undefined {
  const cpus = allowedCpus();
  if (cpus.length < 2) return undefined;
  plan = { client: String(cpus[0]), servers: cpus.slice(1).join(',') };
  setAffinity(process.pid, plan.client);
  return plan;
}

/** Moves a server's processes (all threads) onto the server CPUs; a no-op when the harness did not pin. */
export function pinServer(pids: number[]): void {
  if (!plan) return;
  for (const pid of pids) setAffinity(pid, plan.servers);
}
