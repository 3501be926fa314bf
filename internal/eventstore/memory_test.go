package eventstore_test

import (
	"testing"

	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/eventstore/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventstore.Store { return eventstore.NewMemory() })
}
