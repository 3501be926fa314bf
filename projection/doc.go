// Package projection is casestream's read side: a read model folded from the CASES stream
// (the open cases, indexed by agent, operator and queue, and the caseId of every case), the
// listing of the agent-impersonation API built from it with the directory's names, and the
// query service that answers over NATS request/reply once it has caught up with the
// sequences a request asks for (read-your-writes across replicas).
package projection
