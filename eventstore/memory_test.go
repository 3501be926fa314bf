package eventstore_test

import (
	"testing"

	"github.com/casestream/casestream/eventstore"
	"github.com/casestream/casestream/eventstore/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventstore.Store { return eventstore.NewMemory() })
}
