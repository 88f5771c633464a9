// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"context"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// outputStream runs a stream whose input is the returned send function and
// whose output is the given YAML. send blocks until the batch is
// acknowledged by the output and returns the output's error, if any.
func outputStream(t *testing.T, outputYAML string) (send service.MessageBatchHandlerFunc) {
	t.Helper()
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: off"))
	send, err := b.AddBatchProducerFunc()
	require.NoError(t, err)
	require.NoError(t, b.AddOutputYAML(outputYAML))
	strm, err := b.Build()
	require.NoError(t, err)
	runErr := make(chan error, 1)
	go func() { runErr <- strm.Run(context.Background()) }()
	t.Cleanup(func() {
		assert.NoError(t, strm.StopWithin(10*time.Second))
		<-runErr
	})
	return send
}
