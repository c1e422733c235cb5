/** Stream, subject and durable names of one namespace, so parallel runs and tenants never collide. */
export class JetStreamNames {
  readonly namespace: string;
  constructor(namespace: string) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(namespace)) throw new Error(`invalid JetStream namespace ${namespace}`);
    this.namespace = namespace;
  }
  stream(topic: string): string {
    return `${this.namespace}_${topic}`;
  }
  subject(topic: string, partition: number): string {
    return `${this.namespace}.${topic}.p.${partition}`;
  }
  subjects(topic: string): string {
    return `${this.namespace}.${topic}.p.*`;
  }
  durable(group: string, partition: number): string {
    return `${group}_p${partition}`;
  }
  get leaseStream(): string {
    return `${this.namespace}__leases`;
  }
  lease(scope: string, name: string): string {
    return `${this.namespace}._leases.${scope}.${name}`;
  }
}
