// Every workflow the control-plane worker registers.
export { clusterOperationStandIn } from './stand-in.js';
