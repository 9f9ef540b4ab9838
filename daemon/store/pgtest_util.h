// Test support for the store's own *_pgtest.cpp: the test database (test_database.h) and
// the store's private side, for tests that check rows with SQL of their own.
#pragma once

#include <pqxx/pqxx>

#include "daemon/store/internal/pq.h"
#include "daemon/store/test_database.h"
