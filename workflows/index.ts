// Every workflow the control-plane worker registers.
export { clusterOperationStandIn } from './stand-in.js';
export { createCluster, scaleCluster, updateCluster } from './converge.js';
export { deleteCluster, rotateRootToken } from './lifecycle.js';
export { deleteClusterSnapshot, restoreCluster, scheduledSnapshot, snapshotCluster } from './snapshots.js';
export { upgradeCluster } from './upgrade.js';
export { repairServer, restartServer } from './server-maintenance.js';
export { fleetServerHealth } from './server-health.js';
export { rotateCertificates, scheduledCertificateRotation } from './certificates.js';
export { establishPeering, generatePeeringToken } from './peering.js';
export { fleetAutomaticUpgrades } from './fleet.js';
export { fleetSafetyFiring } from './fleet-safety.js';
export { meteringFiring } from './metering.js';
