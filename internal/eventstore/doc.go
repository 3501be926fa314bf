// Package eventstore stores casestream's events in NATS JetStream: one literal subject per
// case or directory entity, appended with optimistic concurrency on the subject's last
// sequence, loaded back by subject.
//
// Store is the tiny interface the command side needs. JetStream is the implementation that
// production runs; Memory is the in-process one the aggregate and service tests use. Both
// pass the same contract suite (package eventstore/storetest).
package eventstore
