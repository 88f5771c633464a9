// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import "github.com/redpanda-data/benthos/v4/public/service"

// batchOutputConstructor adapts newWriter to a batch output constructor that
// also reads the output's standard `max_in_flight` and `batching` fields.
func batchOutputConstructor[W service.BatchOutput](newWriter func(*service.ParsedConfig, *service.Resources) (W, error)) service.BatchOutputConstructor {
	return func(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
		w, err := newWriter(conf, res)
		if err != nil {
			return nil, service.BatchPolicy{}, 0, err
		}
		maxInFlight, err := conf.FieldMaxInFlight()
		if err != nil {
			return nil, service.BatchPolicy{}, 0, err
		}
		policy, err := conf.FieldBatchPolicy("batching")
		if err != nil {
			return nil, service.BatchPolicy{}, 0, err
		}
		return w, policy, maxInFlight, nil
	}
}
