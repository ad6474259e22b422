// Kafka helpers for tests live with the fleet simulator, which the demo and benchmarks share.
export { deleteTopicsWithPrefix, TopicTap, type Tapped } from '../../services/fleet-sim/topic-tap.js';
export { produce, streamMetric } from '../../services/fleet-sim/metric-stream.js';
