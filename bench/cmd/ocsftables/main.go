// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Command ocsftables writes bench/mappings/ocsf_tables.blobl, duo_ocsf's
// lookup tables (ocsf/data) as Bloblang literals for the Bloblang OCSF
// mappings. Run it from the module root after changing ocsf/data:
//
//	go run ./bench/cmd/ocsftables
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/duostream/duostream/bench"
)

func main() {
	s, err := bench.OCSFTables(filepath.Join("ocsf", "data"))
	if err == nil {
		err = os.WriteFile(filepath.Join("bench", bench.OCSFTablesFile), []byte(s), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ocsftables:", err)
		os.Exit(1)
	}
}
