// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package bench

import (
	"fmt"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/duostream/duostream/processor"
)

// OCSFLogTypes are the log types the OCSF comparison covers, in report
// order: those with a Bloblang OCSF mapping.
var OCSFLogTypes = []string{"Duo.Authentication", "Duo.Administrator", "Duo.OfflineEnrollment"}

// OCSFVariants are the variants of the OCSF comparison (duobench -suite
// ocsf), in report order.
var OCSFVariants = []Variant{
	{"duo_ocsf", DuoOCSF},
	{"bloblang_ocsf", BloblangOCSF},
	{"encoding/json", StdlibFloor},
	{"duo_ocsf+benthos", DuoOCSFOwned},
	{"bloblang_ocsf+benthos", BloblangOCSFOwned},
}

// OCSFMapping returns the Bloblang mapping that turns a Duo event of
// logType into OCSF the way duo_ocsf does: the generated tables
// (mappings/ocsf_tables.blobl), mappings/ocsf_common.blobl and the log
// type's own mappings/ocsf_<type>.blobl, in that order (administrator and
// offline enrollment share ocsf_admin.blobl, which reads the log type from
// the duo_log_type metadata, as duo_ocsf does).
func OCSFMapping(logType string) (string, error) {
	name := map[string]string{
		"Duo.Authentication":    "authentication",
		"Duo.Administrator":     "admin",
		"Duo.OfflineEnrollment": "admin",
	}[logType]
	if name == "" {
		return "", fmt.Errorf("no OCSF mapping for %s", logType)
	}
	var m []byte
	for _, f := range []string{OCSFTablesFile, "mappings/ocsf_common.blobl", "mappings/ocsf_" + name + ".blobl"} {
		b, err := mappingFS.ReadFile(f)
		if err != nil {
			return "", err
		}
		m = append(append(m, b...), '\n')
	}
	return string(m), nil
}

// DuoOCSF is the duo_ocsf processor's ProcessBatch, called on each batch
// of messages carrying the duo_log_type metadata, as a pipeline thread
// calls it.
func DuoOCSF(logType string) (Func, error) {
	conf, err := processor.DuoOCSFSpec().ParseYAML("{}", nil)
	if err != nil {
		return Func{}, err
	}
	proc, err := processor.NewDuoOCSF(conf, service.MockResources())
	if err != nil {
		return Func{}, err
	}
	return batchProcessorFunc(proc, logType), nil
}

// DuoOCSFOwned is duo_ocsf built from YAML and run through Benthos's
// processor wrapper.
func DuoOCSFOwned(logType string) (Func, error) {
	return processorFunc("p:\n  duo_ocsf: {}\n", logType)
}

// BloblangOCSF runs OCSFMapping(logType) on each message as the mapping
// processor runs it (Message.BloblangQuery), then encodes the result.
func BloblangOCSF(logType string) (Func, error) {
	m, err := OCSFMapping(logType)
	if err != nil {
		return Func{}, err
	}
	return bloblangFunc(m, logType)
}

// BloblangOCSFOwned is a mapping processor running OCSFMapping(logType),
// built from YAML and run through Benthos's processor wrapper.
func BloblangOCSFOwned(logType string) (Func, error) {
	m, err := OCSFMapping(logType)
	if err != nil {
		return Func{}, err
	}
	return mappingProcessorFunc(m, logType)
}
