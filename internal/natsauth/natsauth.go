// Package natsauth holds who may do what on casestream's NATS server: the three identities
// (service, reader, admin), the subject permissions of each, the nkey seeds the embedded
// server keeps for them, and the client options with which the api and the projector
// authenticate to an outside server. deploy/nats-server.conf holds the same permissions
// for a cluster, and a test keeps the two equal.
package natsauth

import (
	"fmt"
	"slices"

	"github.com/nats-io/nats-server/v2/server"
)

// Identity names one of the NATS users casestream knows.
type Identity string

// The identities. Service is what cmd/api, cmd/projector and the in-process connection use;
// Reader is for audit tools and downstream subscribers; Admin may do everything, deletion
// included, and no program uses it by default.
const (
	Service Identity = "service"
	Reader  Identity = "reader"
	Admin   Identity = "admin"
)

// Identities lists every identity, in the order they are presented.
var Identities = []Identity{Service, Reader, Admin}

// ServiceInboxPrefix is the prefix of the service's reply subjects. The reader may
// subscribe to "_INBOX.>" for its own requests; the service's replies (direct gets of the
// credentials bucket among them) go elsewhere, where only the service subscribes.
const ServiceInboxPrefix = "_INBOX_casestream"

// The streams the service writes, and the reader's share of them.
var (
	// LogStreams are the event log's streams: the reader consumes them.
	LogStreams = []string{"CASES", "DIRECTORY"}
	// KeyValueBuckets are the service's key-value buckets (stream KV_<name>).
	KeyValueBuckets = []string{"CASESTREAM_IDS", "CASESTREAM_SESSIONS", "CASESTREAM_TOKENS", "CASESTREAM_IDEMPOTENCY", "CASESTREAM_CREDENTIALS"}
	// ObjectBuckets are the service's object-store buckets (stream OBJ_<name>).
	ObjectBuckets = []string{"CASESTREAM_FILES"}
)

// DurableSubjects are where a group-committing service publishes each stream's durable
// sequence (events.DurableSubject): the service publishes, readers subscribe.
const DurableSubjects = "casestream.durable.>"

// api is the JetStream API's subject prefix.
const api = "$JS.API."

// destructive are the JetStream API calls that remove or may remove stored messages:
// deleting or purging a stream (a bucket is a stream), deleting a message, and updating a
// stream, which could set limits that drop events. Only the admin makes them, but for the
// one purge the service makes (servicePermissions).
var destructive = []string{
	api + "STREAM.DELETE.>",
	api + "STREAM.PURGE.>",
	api + "STREAM.MSG.DELETE.>",
	api + "STREAM.UPDATE.>",
}

// Permissions returns the permissions of id: nil (everything) for Admin.
func Permissions(id Identity) (*server.Permissions, error) {
	switch id {
	case Service:
		return servicePermissions(), nil
	case Reader:
		return readerPermissions(), nil
	case Admin:
		return nil, nil
	}
	return nil, fmt.Errorf("natsauth: unknown identity %q", id)
}

// servicePermissions lets the service write its streams and buckets and make the JetStream
// API calls its code makes (nats.go's jetstream package and orbit.go's jetstreamext):
// creating a stream (an identical create is a no-op, so a restart needs no update), its
// info, direct and stored-message gets (batch gets included), ordered consumers (created
// with a name and filter, read with MSG.NEXT, deleted when reset), acknowledgements and
// flow control of push consumers (key-value watchers, object reads). It answers projection
// queries by responding to the requests it receives.
//
// The one purge it may make is of its object stores' streams: the object store removes an
// object's chunks (a removed file's, a failed or replaced upload's) by purging them by
// subject. Files are not the log: the log keeps each file's metadata and digest. The log's
// streams and the key-value buckets may not be purged.
func servicePermissions() *server.Permissions {
	var streams, unpurgeable []string
	streams = append(streams, LogStreams...)
	pub := []string{"cases.>", "directory.>", "casestream.projection.>", DurableSubjects, api + "INFO"}
	for _, b := range KeyValueBuckets {
		streams = append(streams, "KV_"+b)
		pub = append(pub, "$KV."+b+".>")
	}
	for _, s := range streams {
		unpurgeable = append(unpurgeable, api+"STREAM.PURGE."+s)
	}
	for _, b := range ObjectBuckets {
		streams = append(streams, "OBJ_"+b)
		pub = append(pub, "$O."+b+".>", api+"STREAM.PURGE.OBJ_"+b)
	}
	for _, s := range streams {
		pub = append(pub,
			api+"STREAM.CREATE."+s,
			api+"STREAM.INFO."+s,
			api+"STREAM.MSG.GET."+s,
			api+"DIRECT.GET."+s,
			api+"DIRECT.GET."+s+".>",
			api+"CONSUMER.CREATE."+s+".>",
			api+"CONSUMER.INFO."+s+".*",
			api+"CONSUMER.DELETE."+s+".*",
			api+"CONSUMER.MSG.NEXT."+s+".*",
			"$JS.ACK."+s+".>",
			"$JS.FC."+s+".>",
		)
	}
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: pub, Deny: append(withoutPurge(destructive), unpurgeable...)},
		Subscribe: &server.SubjectPermission{
			Allow: []string{ServiceInboxPrefix + ".>", "casestream.projection.>", "$SRV.>"},
		},
		Response: &server.ResponsePermission{
			MaxMsgs: server.DEFAULT_ALLOW_RESPONSE_MAX_MSGS,
			Expires: server.DEFAULT_ALLOW_RESPONSE_EXPIRATION,
		},
	}
}

// withoutPurge returns subjects without the blanket denial of purges.
func withoutPurge(subjects []string) []string {
	return slices.DeleteFunc(slices.Clone(subjects), func(s string) bool { return s == api+"STREAM.PURGE.>" })
}

// readerPermissions lets a reader consume CASES and DIRECTORY: stream info, direct and
// stored-message gets, consumers of its own (ordered, ephemeral or durable; pull or push),
// their acknowledgements and flow control, and the durable sequences the service publishes
// (DurableSubjects). Nothing else: no publish to the log or the durable sequences, no
// bucket, no deletion, and no subscription but its own inbox and the durable sequences.
func readerPermissions() *server.Permissions {
	pub := []string{api + "INFO"}
	for _, s := range LogStreams {
		pub = append(pub,
			api+"STREAM.INFO."+s,
			api+"STREAM.MSG.GET."+s,
			api+"DIRECT.GET."+s,
			api+"DIRECT.GET."+s+".>",
			api+"CONSUMER.CREATE."+s,
			api+"CONSUMER.CREATE."+s+".>",
			api+"CONSUMER.DURABLE.CREATE."+s+".*",
			api+"CONSUMER.INFO."+s+".*",
			api+"CONSUMER.DELETE."+s+".*",
			api+"CONSUMER.MSG.NEXT."+s+".*",
			api+"CONSUMER.NAMES."+s,
			api+"CONSUMER.LIST."+s,
			"$JS.ACK."+s+".>",
			"$JS.FC."+s+".>",
		)
	}
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: pub,
			Deny:  append([]string{"cases.>", "directory.>", DurableSubjects, "$KV.>", "$O.>"}, destructive...),
		},
		Subscribe: &server.SubjectPermission{
			Allow: []string{"_INBOX.>", DurableSubjects},
			Deny:  []string{"$KV.>", "$O.>", ServiceInboxPrefix + ".>"},
		},
	}
}
