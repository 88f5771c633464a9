// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package endpoint

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
)

// TestRegistrarOf guards the one use of a Benthos internal: a Resources
// must unwrap to a manager that registers endpoints.
func TestRegistrarOf(t *testing.T) {
	_, ok := RegistrarOf(service.MockResources())
	assert.True(t, ok, "Benthos' Resources no longer unwrap to an endpoint registrar")
	_, ok = RegistrarOf(nil)
	assert.False(t, ok)
}
