// Package cases is casestream's command side: it loads a case's state (from its cache or the
// event store), lets an aggregate command decide, and appends the resulting events with
// optimistic concurrency, deciding again on a conflict.
//
// Commands on one case are serialised within a process, so concurrent commands on a hot case
// never conflict with each other here; conflicts come only from other replicas, and are
// resolved by reloading the events appended since the cached sequence and deciding again.
package cases
