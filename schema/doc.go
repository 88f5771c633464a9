// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package schema interprets Panther-format log schemas: it validates and
// normalizes events and extracts Panther's p_* indicator fields.
package schema
