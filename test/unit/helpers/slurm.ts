// A single-node Slurm for tests: its own munged (own key and socket) and slurmctld + slurmd on localhost, with
// every state, spool, pid and log file in one temporary folder and ports picked free, so that nothing of the
// machine's own setup is used or changed. Stopped by the PIDs in the pid files.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface SlurmCluster {
	dir: string;
	env: NodeJS.ProcessEnv;
	/** Runs a Slurm client command; throws with its stderr when it fails. */
	run(cmd: string, args: string[], opts?: { cwd?: string; env?: NodeJS.ProcessEnv }): string;
	stop(): Promise<void>;
}

const DAEMONS = ['slurmd', 'slurmctld', 'munged'] as const;

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.once('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const port = (s.address() as net.AddressInfo).port;
			s.close(() => resolve(port));
		});
	});
}

/** Which of munged, slurmctld, slurmd, sbatch are not installed. */
export function missingSlurmTools(): string[] {
	return ['munged', 'slurmctld', 'slurmd', 'sbatch', 'scancel', 'scontrol'].filter((t) => spawnSync('sh', ['-c', `command -v ${t} || test -x /usr/sbin/${t}`]).status !== 0);
}

function bin(name: string): string {
	return existsSync(`/usr/sbin/${name}`) ? `/usr/sbin/${name}` : name;
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, logs: () => Promise<string>): Promise<T> {
	// A state, not a time: the only bound is a generous one that stops a broken setup from hanging the suite.
	for (let i = 0; i < 1200; i++) {
		const v = await probe();
		if (v !== undefined) return v;
		await new Promise((r) => setTimeout(r, 100));
	}
	throw new Error(`slurm: ${what} never happened\n${await logs()}`);
}

export async function startSlurm(cpus: number): Promise<SlurmCluster> {
	const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-slurm-'));
	await fs.chmod(dir, 0o700);
	const host = os.hostname().split('.')[0];
	const [ctldPort, dPort] = [await freePort(), await freePort()];
	const sock = path.join(dir, 'munge.sock');
	await fs.writeFile(path.join(dir, 'munge.key'), randomBytes(1024), { mode: 0o400 });
	for (const d of ['state', 'spool']) await fs.mkdir(path.join(dir, d));
	const conf = path.join(dir, 'slurm.conf');
	const memMb = Math.floor(os.totalmem() / 2 ** 20 / 2);
	await fs.writeFile(
		conf,
		[
			'ClusterName=radreview-test',
			`SlurmctldHost=${host}`,
			`SlurmctldPort=${ctldPort}`,
			`SlurmdPort=${dPort}`,
			'SlurmUser=root',
			'AuthType=auth/munge',
			`AuthInfo=socket=${sock}`,
			'CredType=cred/munge',
			`StateSaveLocation=${dir}/state`,
			`SlurmdSpoolDir=${dir}/spool`,
			`SlurmctldPidFile=${dir}/slurmctld.pid`,
			`SlurmdPidFile=${dir}/slurmd.pid`,
			`SlurmctldLogFile=${dir}/slurmctld.log`,
			`SlurmdLogFile=${dir}/slurmd.log`,
			'ProctrackType=proctrack/linuxproc',
			'TaskPlugin=task/none',
			'JobAcctGatherType=jobacct_gather/none',
			'SelectType=select/cons_tres',
			'SelectTypeParameters=CR_Core',
			'ReturnToService=2',
			'MpiDefault=none',
			`NodeName=${host} CPUs=${cpus} RealMemory=${memMb} State=UNKNOWN`,
			`PartitionName=test Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
			'',
		].join('\n'),
	);
	const env = { ...process.env, SLURM_CONF: conf };
	const logs = async () => {
		const out: string[] = [];
		for (const f of ['munged.log', 'slurmctld.log', 'slurmd.log']) out.push(`--- ${f}\n${(await fs.readFile(path.join(dir, f), 'utf8').catch(() => '(none)')).slice(-3000)}`);
		return out.join('\n');
	};
	const cluster: SlurmCluster = {
		dir,
		env,
		run(cmd, args, opts = {}) {
			const r = spawnSync(cmd, args, { cwd: opts.cwd ?? dir, env: { ...env, ...opts.env }, encoding: 'utf8' });
			if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stderr}${r.error ? String(r.error) : ''}`);
			return r.stdout;
		},
		async stop() {
			for (const d of DAEMONS) {
				const pid = Number((await fs.readFile(path.join(dir, `${d}.pid`), 'utf8').catch(() => '')).trim());
				if (!(pid > 0)) continue;
				try {
					process.kill(pid, 'SIGTERM');
				} catch {
					continue;
				}
				await until(
					`${d} (pid ${pid}) exiting`,
					() => {
						try {
							process.kill(pid, 0);
							return undefined;
						} catch {
							return true;
						}
					},
					logs,
				).catch(() => process.kill(pid, 'SIGKILL'));
			}
			await fs.rm(dir, { recursive: true, force: true });
		},
	};
	try {
		const daemon = (cmd: string, args: string[]) => execFileSync(bin(cmd), args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
		daemon('munged', ['--force', `--socket=${sock}`, `--key-file=${dir}/munge.key`, `--log-file=${dir}/munged.log`, `--pid-file=${dir}/munged.pid`, `--seed-file=${dir}/munged.seed`]);
		daemon('slurmctld', ['-f', conf]);
		daemon('slurmd', ['-f', conf]);
		await until(
			'the node becoming idle',
			() => {
				const r = spawnSync('sinfo', ['-h', '-o', '%T'], { env, encoding: 'utf8' });
				return r.status === 0 && r.stdout.trim() === 'idle' ? true : undefined;
			},
			logs,
		);
	} catch (e) {
		const msg = `${(e as Error).message}\n${await logs()}`;
		await cluster.stop();
		throw new Error(msg);
	}
	return cluster;
}

const ACTIVE = new Set(['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'REQUEUED', 'RESIZING', 'SIGNALING', 'STAGE_OUT']);

/** JobState of every task of job `id` (an array's tasks by "id_task"), from scontrol. */
export function jobStates(c: SlurmCluster, id: string): Map<string, string> {
	const out = new Map<string, string>();
	for (const line of c.run('scontrol', ['show', 'job', '-o', id]).split('\n')) {
		if (!line.trim()) continue;
		const f = Object.fromEntries(line.split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
		const task = f.ArrayTaskId && f.ArrayTaskId !== 'N/A' ? `${f.ArrayJobId}_${f.ArrayTaskId}` : f.JobId;
		out.set(task, f.JobState);
	}
	return out;
}

/** Waits until no task of job `id` is pending or running; returns the final states. */
export async function waitForJob(c: SlurmCluster, id: string): Promise<Map<string, string>> {
	for (;;) {
		const states = jobStates(c, id);
		if (states.size > 0 && [...states.values()].every((s) => !ACTIVE.has(s))) return states;
		await new Promise((r) => setTimeout(r, 200));
	}
}
