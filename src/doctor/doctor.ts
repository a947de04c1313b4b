import Table from 'cli-table3';
import { systemProbe, type ClockSyncProbe } from '../access/clock-sync.js';
import type { Components } from '../compose.js';
import type { FacegateConfig } from '../config/schema.js';
import { IrisEyelidReader } from '../liveness/eyelids.js';
import { modelDirFor } from '../model/config.js';
import {
  checkBroker,
  checkCamera,
  checkClock,
  checkDetector,
  checkDisk,
  checkEyeModel,
  checkGpio,
  checkModelFiles,
  checkTfBackend,
  ok,
  type CheckResult,
} from './checks.js';

export interface DoctorOptions {
  /** Click the relay (unlock for pulseMs, lock again). Off by default: a doctor does not open doors unasked. */
  readonly pulse?: boolean;
  readonly pulseMs?: number;
  /** How the clock state is asked (default: systemd). */
  readonly clockProbe?: ClockSyncProbe;
  /** Free bytes of a directory (default: statfs). */
  readonly freeBytes?: (dir: string) => Promise<number>;
  /** Per check progress (the CLI prints a line per check while it waits on a slow camera). */
  readonly onCheck?: (result: CheckResult) => void;
  readonly brokerTimeoutMs?: number;
}

/**
 * Runs every check of `facegate doctor` in order, on the daemon's own components (so the
 * camera, detector, model and GPIO lines are opened exactly as the daemon opens them) and
 * returns the rows. The config was valid (else loadConfig threw before this). Run it with
 * the daemon stopped: the camera and the GPIO lines can have only one user.
 */
export async function runDoctor(
  config: FacegateConfig,
  components: Components,
  options: DoctorOptions = {},
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add = (r: CheckResult): void => {
    results.push(r);
    options.onCheck?.(r);
  };
  add(ok('config', `valid (device ${config.device.id})`));
  add(await checkCamera(components.camera));
  add(await checkDetector(components.detector));
  add(await checkModelFiles(modelDirFor(config.model), config.model.backbone));
  add(
    await checkTfBackend(async () => {
      const model = await components.model();
      const tf = await import('@tensorflow/tfjs');
      try {
        return { backend: tf.getBackend(), modelId: model.embedder.modelId };
      } finally {
        model.embedder.dispose();
      }
    }),
  );
  add(
    await checkEyeModel(config.access.liveness, () => IrisEyelidReader.load(config.access.liveness.eyeModel)),
  );
  for (const r of await checkGpio(
    {
      // The mqtt relay has no line here: the broker row covers it.
      relay: config.door.relay.type === 'mqtt' ? null : components.relay,
      inputs: [
        { label: 'door contact', open: components.contact },
        { label: 'exit button', open: components.exitButton },
      ],
    },
    { pulse: options.pulse === true, pulseMs: options.pulseMs },
  )) {
    add(r);
  }
  add(await checkBroker(config.mqtt, config.device.id, options.brokerTimeoutMs));
  add(await checkClock(options.clockProbe ?? systemProbe));
  add(await checkDisk(components.galleryPath, { free: options.freeBytes }));
  return results;
}

/** True when any check failed (warnings do not fail the doctor). */
export function anyFailed(results: readonly CheckResult[]): boolean {
  return results.some((r) => r.status === 'fail');
}

const MARK: Record<CheckResult['status'], string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL' };

/** The results as a table (cli-table3): check, status, what was found, fix. */
export function renderDoctorTable(
  results: readonly CheckResult[],
  options: { color?: boolean } = {},
): string {
  const table = new Table({
    head: ['check', 'status', 'found', 'fix'],
    colWidths: [14, 8, 46, 52],
    wordWrap: true,
    style: { head: options.color ? ['cyan'] : [], border: options.color ? ['grey'] : [] },
  });
  for (const r of results) table.push([r.check, MARK[r.status], r.detail, r.fix]);
  return table.toString();
}
