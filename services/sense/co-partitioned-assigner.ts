import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/** The group protocol name of the co-partitioned assignment. */
export const CO_PARTITIONED = 'AutoglmCoPartitioned';

/**
 * Member → topic → partitions, with partition p of every topic given to the same member: the
 * partition numbers are dealt round robin over the members sorted by id. Pure, for the assigner
 * and its test.
 */
export function coPartitionedAssignment(
  memberIds: readonly string[],
  partitionsByTopic: ReadonlyMap<string, readonly number[]>,
): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const numbers = new Set<number>();
  for (const partitions of partitionsByTopic.values()) for (const p of partitions) numbers.add(p);
  const owner = new Map([...numbers].sort((a, b) => a - b).map((p, i) => [p, members[i % members.length]!]));
  const assignment = new Map<string, Record<string, number[]>>();
  for (const [topic, partitions] of partitionsByTopic) {
    for (const p of [...partitions].sort((a, b) => a - b)) {
      const member = owner.get(p)!;
      let topics = assignment.get(member);
      if (topics === undefined) assignment.set(member, (topics = {}));
      (topics[topic] ??= []).push(p);
    }
  }
  return assignment;
}

/**
 * A kafkajs partition assigner that keeps the topics co-partitioned: an entity's samples (metrics
 * partition p) and its events (events partition p: same key, same partition count) go to the same
 * sense process, whose windows need both. kafkajs' round robin deals the topic-partitions one by
 * one, so with two processes and three partitions most entities' events went to the other
 * process, and a process that took a metrics partition over could emit its windows while the
 * events partition was still held by a member that had died.
 */
export const coPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONED,
  version: 0,
  async assign({ members, topics }) {
    const partitionsByTopic = new Map(
      topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId)]),
    );
    const assignment = coPartitionedAssignment(
      members.map((m) => m.memberId),
      partitionsByTopic,
    );
    return [...assignment].map(([memberId, byTopic]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 0,
        assignment: byTopic,
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: CO_PARTITIONED,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    };
  },
});
