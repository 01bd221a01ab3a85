/*
 * http-parser (third_party/, not ours) for the host tests and the fuzzer,
 * compiled unchanged; only the warnings our flags make fatal and it does
 * not pass are silenced, here rather than for every file of the test.
 */
#pragma GCC diagnostic ignored "-Wshadow"
#include "third_party/http-parser/http_parser.c"
