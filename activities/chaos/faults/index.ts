import type { FaultType } from '../../../schemas/faults';
import type { Fault } from './fault';
import { podKill } from './pod-kill';
import { podFailure } from './pod-failure';
import { httpAbort, httpDelay, networkDelay, networkLoss } from './proxy';
import { cpuStress, memoryStress } from './stress';

export type { Fault, ResolvedFault, LocalFaultContext } from './fault';

/** Every fault kind of the local target; adding a kind = one file + one line here + one schema entry. */
export const LOCAL_FAULTS: Record<FaultType, Fault> = {
  'pod-kill': podKill,
  'pod-failure': podFailure,
  'network-delay': networkDelay,
  'network-loss': networkLoss,
  'cpu-stress': cpuStress,
  'memory-stress': memoryStress,
  'http-abort': httpAbort,
  'http-delay': httpDelay,
};
