import { join } from 'node:path';
import { faultlineHome } from '../../infra/home';

export { faultlineHome };
/** faultline's chaos state outside any campaign: halt marker, stress pid files, the registry of fault logs. */
export const chaosHomeDir = () => join(faultlineHome(), 'chaos');
export const haltMarkerPath = () => join(chaosHomeDir(), 'HALT');
/** One line per fault log ever opened, so purge finds logs of campaigns with a custom data dir. */
export const faultLogRegistryPath = () => join(chaosHomeDir(), 'fault-logs.txt');
export const stressDir = () => join(chaosHomeDir(), 'stress');
/** <campaignDir>/chaos/faults.jsonl */
export const faultLogPath = (campaignDir: string) => join(campaignDir, 'chaos', 'faults.jsonl');
