// Kafka helpers for tests live with the fleet simulator, which the demo and benchmarks share.
export { deleteTopicsWithPrefix, TopicTap, type Tapped } from '../../services/common/topic-tap.js';
export { produce, streamMetric } from './metric-stream.js';
