// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package cache holds duostream's Benthos caches, used above all to keep the
// duo_admin_logs checkpoint durable or shared. Importing it registers them
// with the global Benthos environment.
package cache
