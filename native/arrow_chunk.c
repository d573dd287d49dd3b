/*
 * Streaming DuckDB result -> Arrow buffers, on libuv worker threads.
 *
 * Reading strings from JS costs one native call per value longer than 12 bytes, so the buffers are
 * written here in C: columns whose DuckDB vector is (nearly) the Arrow layout — numbers, dates,
 * times, timestamps, booleans, text, blobs — straight from the vectors (pack_direct); a result with
 * any other column type goes through DuckDB's own Arrow appender (duckdb_data_chunk_to_arrow, then
 * pack). fetch() pulls the next chunks of a streaming result and convert() turns them into Arrow,
 * destroys them at once (DuckDB chunks held by @duckdb/node-api wrappers are freed only at GC,
 * invisible to V8: the cause of growing RSS) and packs every buffer into ONE block that JS
 * receives as an ArrayBuffer with a small table of offsets. Fetching group i+1 overlaps converting
 * group i.
 *
 * It links to nothing: the DuckDB functions are looked up in the libduckdb.so that
 * @duckdb/node-bindings has already loaded (dlopen with RTLD_NOLOAD), so both share one library.
 * The connection and result handles come from @duckdb/node-api's type-tagged napi externals.
 */
#include <dlfcn.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#ifdef __linux__
#include <stdio.h>
#include <sys/mman.h>
#endif

/* Arrow C data interface (a stable ABI). */
struct ArrowSchema {
  const char *format;
  const char *name;
  const char *metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema **children;
  struct ArrowSchema *dictionary;
  void (*release)(struct ArrowSchema *);
  void *private_data;
};

struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void **buffers;
  struct ArrowArray **children;
  struct ArrowArray *dictionary;
  void (*release)(struct ArrowArray *);
  void *private_data;
};

/* DuckDB C API handles are opaque pointers. */
typedef void *duckdb_connection;
typedef void *duckdb_data_chunk;
typedef void *duckdb_arrow_options;
typedef void *duckdb_error_data;
typedef void *duckdb_logical_type;
typedef void *duckdb_vector;
typedef uint64_t idx_t;

/* duckdb_result is passed by value to duckdb_fetch_chunk: its layout is part of DuckDB's C ABI. */
typedef struct {
  idx_t deprecated_column_count;
  idx_t deprecated_row_count;
  idx_t deprecated_rows_changed;
  void *deprecated_columns;
  char *deprecated_error_message;
  void *internal_data;
} duckdb_result;

static struct {
  void (*connection_get_arrow_options)(duckdb_connection, duckdb_arrow_options *);
  void (*destroy_arrow_options)(duckdb_arrow_options *);
  duckdb_error_data (*data_chunk_to_arrow)(duckdb_arrow_options, duckdb_data_chunk, struct ArrowArray *);
  duckdb_error_data (*to_arrow_schema)(duckdb_arrow_options, duckdb_logical_type *, const char **, idx_t,
                                       struct ArrowSchema *);
  int (*error_data_has_error)(duckdb_error_data);
  const char *(*error_data_message)(duckdb_error_data);
  void (*destroy_error_data)(duckdb_error_data *);
  void (*destroy_logical_type)(duckdb_logical_type *);
  idx_t (*data_chunk_get_size)(duckdb_data_chunk);
  duckdb_data_chunk (*fetch_chunk)(duckdb_result);
  void (*destroy_data_chunk)(duckdb_data_chunk *);
  idx_t (*column_count)(duckdb_result *);
  duckdb_logical_type (*column_logical_type)(duckdb_result *, idx_t);
  const char *(*result_error)(duckdb_result *);
  void (*vector_assign_string_element_len)(duckdb_vector, idx_t, const char *, idx_t);
  void (*vector_ensure_validity_writable)(duckdb_vector);
  uint64_t *(*vector_get_validity)(duckdb_vector);
  void (*validity_set_row_invalid)(uint64_t *, idx_t);
  int (*get_type_id)(duckdb_logical_type);
  int (*decimal_internal_type)(duckdb_logical_type);
  duckdb_vector (*data_chunk_get_vector)(duckdb_data_chunk, idx_t);
  void *(*vector_get_data)(duckdb_vector);
} ddb;

static int loaded = 0;
/* native/function_source.c */
int bundlebase_function_source_load(void *handle, void *(*dlsym_fn)(void *, const char *));
napi_value bundlebase_register_function_source(napi_env env, napi_callback_info info, void *connection);
napi_value bundlebase_push_page(napi_env env, napi_callback_info info);
napi_value bundlebase_end_source(napi_env env, napi_callback_info info);
static int function_sources_loaded = 0; /* function_source.c found its symbols too */
static void detect_huge_pages(void);
static pthread_once_t huge_pages_detected = PTHREAD_ONCE_INIT;
/* DuckDB's jemalloc control, optional: only allocatorSetting (tests, benches) reads it */
static int (*je_mallctl)(const char *, void *, size_t *, void *, size_t);

/* Type tags of @duckdb/node-bindings' externals (bindings/src/externals.h). */
static const napi_type_tag CONNECTION_TAG = {0x922B9BF54AB04DFCULL, 0x8A258578D371DB71ULL};
static const napi_type_tag RESULT_TAG = {0x08F7FE3AE12345E5ULL, 0x8733310DC29372D9ULL};

/* A converted block holds the batches of one fetched group. It starts with [batches, columns], then
 * per batch its row count and META_FIELDS int32 per column: byte offsets and lengths of the column's
 * buffers (-1 offset = buffer absent); then the buffers, 8-byte aligned. */
enum { HEADER_BATCHES, HEADER_COLUMNS, HEADER_FIELDS };

/* A fetch gathers chunks until it holds GROUP_ROWS rows (at most GROUP_CHUNKS chunks): fewer, larger
 * jobs cost fewer thread wake-ups and allocations than one job per 2048-row chunk. */
#define GROUP_CHUNKS 16
#define GROUP_ROWS 16384
enum { META_NULL_COUNT, META_ARRAY_OFFSET, META_VALIDITY, META_VALIDITY_LEN, META_OFFSETS, META_OFFSETS_LEN,
       META_DATA, META_DATA_LEN, META_FIELDS };

typedef enum { KIND_FIXED, KIND_BOOL, KIND_STRING32, KIND_STRING64, KIND_NULL, KIND_UNSUPPORTED } column_kind;

typedef struct {
  column_kind kind;
  int width; /* bytes per value for KIND_FIXED */
} column_layout;

typedef struct {
  duckdb_arrow_options options;
  idx_t columns;
  column_layout *layouts;
  int direct; /* every column is read straight from DuckDB's vectors (see pack_direct) */
  int streamed; /* the caller drops batches as it goes (not toArrow): blocks may be huge pages and are reported to V8 */
  int *source_widths; /* bytes per value in each column's DuckDB vector (fixed-width columns) */
} converter;

/* duckdb_type values (duckdb.h) of the columns pack_direct reads. */
enum { T_BOOLEAN = 1, T_TINYINT, T_SMALLINT, T_INTEGER, T_BIGINT, T_UTINYINT, T_USMALLINT, T_UINTEGER, T_UBIGINT,
       T_FLOAT, T_DOUBLE, T_TIMESTAMP, T_DATE, T_TIME, T_HUGEINT = 16, T_VARCHAR = 17, T_BLOB = 18,
       T_DECIMAL = 19, T_TIMESTAMP_S = 20, T_TIMESTAMP_MS, T_TIMESTAMP_NS, T_TIMESTAMP_TZ = 31 };

/* duckdb_string_t (duckdb.h): 16 bytes, the text inline up to 12 bytes, else a prefix and a pointer. */
typedef union {
  struct { uint32_t length; char prefix[4]; const char *ptr; } pointer;
  struct { uint32_t length; char inlined[12]; } inlined;
} duckdb_string;
_Static_assert(sizeof(duckdb_string) == 16, "duckdb_string_t is 16 bytes");

/*
 * Bytes per value in DuckDB's own vector of a column (a DECIMAL is stored as a 2-, 4-, 8- or
 * 16-byte integer, per its width), for the types whose values are the Arrow ones; 0 otherwise.
 */
static int direct_width(int type_id, int decimal_internal) {
  switch (type_id) {
    case T_TINYINT: case T_UTINYINT: return 1;
    case T_SMALLINT: case T_USMALLINT: return 2;
    case T_INTEGER: case T_UINTEGER: case T_FLOAT: case T_DATE: return 4;
    case T_BIGINT: case T_UBIGINT: case T_DOUBLE: case T_TIME: case T_TIMESTAMP: case T_TIMESTAMP_S:
    case T_TIMESTAMP_MS: case T_TIMESTAMP_NS: case T_TIMESTAMP_TZ: return 8;
    case T_HUGEINT: return 16; /* exported as decimal128(38, 0): the same 16 little-endian bytes */
    case T_DECIMAL: return decimal_internal == T_HUGEINT ? 16 : direct_width(decimal_internal, 0);
    default: return 0;
  }
}

/*
 * Whether a column of `type_id` exported by DuckDB as `l` can be written from its vector: as is,
 * or (a DECIMAL held in fewer bytes than Arrow's decimal128) sign-extended to 16 bytes.
 */
static int direct_capable(int type_id, int width, column_layout l) {
  if (type_id == T_BOOLEAN) return l.kind == KIND_BOOL;
  if (type_id == T_VARCHAR || type_id == T_BLOB) return l.kind == KIND_STRING32 || l.kind == KIND_STRING64;
  if (width == 0 || l.kind != KIND_FIXED) return 0;
  return l.width == width || (type_id == T_DECIMAL && l.width == 16 && width >= 2);
}

#define CHECK(call)                                                                                     \
  do {                                                                                                  \
    if ((call) != napi_ok) return NULL;                                                                 \
  } while (0)

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, "BUNDLEBASE_NATIVE", message);
  return NULL;
}

#define LOAD(field, symbol)                                                                             \
  do {                                                                                                  \
    *(void **)(&ddb.field) = dlsym(handle, symbol);                                                     \
    if (!ddb.field) return 0;                                                                           \
  } while (0)

static int load_symbols(const char *path) {
  void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (!handle) return 0;
  LOAD(connection_get_arrow_options, "duckdb_connection_get_arrow_options");
  LOAD(destroy_arrow_options, "duckdb_destroy_arrow_options");
  LOAD(data_chunk_to_arrow, "duckdb_data_chunk_to_arrow");
  LOAD(to_arrow_schema, "duckdb_to_arrow_schema");
  LOAD(error_data_has_error, "duckdb_error_data_has_error");
  LOAD(error_data_message, "duckdb_error_data_message");
  LOAD(destroy_error_data, "duckdb_destroy_error_data");
  LOAD(destroy_logical_type, "duckdb_destroy_logical_type");
  LOAD(data_chunk_get_size, "duckdb_data_chunk_get_size");
  LOAD(fetch_chunk, "duckdb_fetch_chunk");
  LOAD(destroy_data_chunk, "duckdb_destroy_data_chunk");
  LOAD(column_count, "duckdb_column_count");
  LOAD(column_logical_type, "duckdb_column_logical_type");
  LOAD(result_error, "duckdb_result_error");
  LOAD(vector_assign_string_element_len, "duckdb_vector_assign_string_element_len");
  LOAD(vector_ensure_validity_writable, "duckdb_vector_ensure_validity_writable");
  LOAD(vector_get_validity, "duckdb_vector_get_validity");
  LOAD(validity_set_row_invalid, "duckdb_validity_set_row_invalid");
  LOAD(get_type_id, "duckdb_get_type_id");
  LOAD(decimal_internal_type, "duckdb_decimal_internal_type");
  LOAD(data_chunk_get_vector, "duckdb_data_chunk_get_vector");
  LOAD(vector_get_data, "duckdb_vector_get_data");
  function_sources_loaded = bundlebase_function_source_load(handle, dlsym);
  *(void **)(&je_mallctl) = dlsym(handle, "duckdb_je_mallctl");
  return 1;
}

/* load(pathToLibduckdb): true when every symbol was found in the already-loaded library. */
static napi_value js_load(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  char path[4096];
  size_t len;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) {
    return throw_error(env, "load(path) needs the path of libduckdb.so");
  }
  loaded = load_symbols(path);
  pthread_once(&huge_pages_detected, detect_huge_pages); /* once per process, whatever the threads */
  CHECK(napi_get_boolean(env, loaded, &result));
  return result;
}

static void *tagged_external(napi_env env, napi_value value, const napi_type_tag *tag) {
  bool matches = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, value, tag, &matches) != napi_ok || !matches) return NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok) return NULL;
  return data;
}

/* Arrow format string -> how its buffers are laid out; nested and dictionary types are not handled. */
static column_layout layout_of(const struct ArrowSchema *schema) {
  const char *f = schema->format;
  column_layout l = {KIND_UNSUPPORTED, 0};
  if (schema->dictionary || schema->n_children > 0) return l;
  if (f[0] != '\0' && f[1] == '\0') {
    switch (f[0]) {
      case 'n': l.kind = KIND_NULL; return l;
      case 'b': l.kind = KIND_BOOL; return l;
      case 'c': case 'C': l.kind = KIND_FIXED; l.width = 1; return l;
      case 's': case 'S': case 'e': l.kind = KIND_FIXED; l.width = 2; return l;
      case 'i': case 'I': case 'f': l.kind = KIND_FIXED; l.width = 4; return l;
      case 'l': case 'L': case 'g': l.kind = KIND_FIXED; l.width = 8; return l;
      case 'u': case 'z': l.kind = KIND_STRING32; return l;
      case 'U': case 'Z': l.kind = KIND_STRING64; return l;
    }
    return l;
  }
  if (strcmp(f, "tdD") == 0 || strcmp(f, "tts") == 0 || strcmp(f, "ttm") == 0 || strcmp(f, "tiM") == 0) {
    l.kind = KIND_FIXED; l.width = 4; return l;
  }
  if (strcmp(f, "tdm") == 0 || strcmp(f, "ttu") == 0 || strcmp(f, "ttn") == 0 || strncmp(f, "tD", 2) == 0 ||
      strncmp(f, "ts", 2) == 0 || strcmp(f, "tiD") == 0) {
    l.kind = KIND_FIXED; l.width = 8; return l;
  }
  if (strcmp(f, "tin") == 0) { l.kind = KIND_FIXED; l.width = 16; return l; }
  if (strncmp(f, "d:", 2) == 0) {
    /* d:precision,scale[,bitwidth]; 128 bits unless a bit width is given */
    const char *comma = strchr(f + 2, ',');
    const char *bits = comma ? strchr(comma + 1, ',') : NULL;
    l.kind = KIND_FIXED;
    l.width = bits ? atoi(bits + 1) / 8 : 16;
    return l;
  }
  return l;
}

static void converter_finalize(napi_env env, void *data, void *hint) {
  converter *c = (converter *)data;
  (void)env; (void)hint;
  if (c->options) ddb.destroy_arrow_options(&c->options);
  free(c->layouts);
  free(c->source_widths);
  free(c);
}

/*
 * createConverter(connection, result, allowDirect = true, streamed = true) -> { converter, formats: string[], direct: boolean }
 * The Arrow schema comes from the result's column types, exactly as DuckDB exports them. `direct`:
 * chunks will be written from DuckDB's vectors (pack_direct), not through DuckDB's Arrow appender.
 */
static napi_value js_create_converter(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result, formats, external, format;
  bool allow_direct = true, streamed = true;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 3 && napi_get_value_bool(env, argv[2], &allow_direct) != napi_ok) allow_direct = true;
  if (argc >= 4 && napi_get_value_bool(env, argv[3], &streamed) != napi_ok) streamed = true;
  if (!loaded) return throw_error(env, "libduckdb symbols are not loaded");
  void **connection_holder = (void **)tagged_external(env, argv[0], &CONNECTION_TAG);
  duckdb_result *duck_result = (duckdb_result *)tagged_external(env, argv[1], &RESULT_TAG);
  if (!connection_holder || !duck_result) return throw_error(env, "createConverter expects a DuckDB connection and result");

  converter *c = calloc(1, sizeof *c);
  if (!c) return throw_error(env, "out of memory");
  ddb.connection_get_arrow_options(*connection_holder, &c->options);
  c->columns = ddb.column_count(duck_result);
  c->layouts = calloc(c->columns ? c->columns : 1, sizeof *c->layouts);
  c->source_widths = calloc(c->columns ? c->columns : 1, sizeof *c->source_widths);
  duckdb_logical_type *types = calloc(c->columns ? c->columns : 1, sizeof *types);
  const char **names = calloc(c->columns ? c->columns : 1, sizeof *names);
  if (!c->layouts || !c->source_widths || !types || !names) {
    free(types); free(names); converter_finalize(env, c, NULL);
    return throw_error(env, "out of memory");
  }
  int *type_ids = calloc(c->columns ? c->columns : 1, sizeof *type_ids);
  if (!type_ids) {
    free(types); free(names); converter_finalize(env, c, NULL);
    return throw_error(env, "out of memory");
  }
  for (idx_t i = 0; i < c->columns; i++) {
    types[i] = ddb.column_logical_type(duck_result, i);
    type_ids[i] = ddb.get_type_id(types[i]);
    c->source_widths[i] = direct_width(type_ids[i], type_ids[i] == T_DECIMAL ? ddb.decimal_internal_type(types[i]) : 0);
    names[i] = "c";
  }
  struct ArrowSchema schema;
  memset(&schema, 0, sizeof schema);
  duckdb_error_data error = ddb.to_arrow_schema(c->options, types, names, c->columns, &schema);
  for (idx_t i = 0; i < c->columns; i++) ddb.destroy_logical_type(&types[i]);
  free(types);
  free(names);
  if (error && ddb.error_data_has_error(error)) {
    napi_value thrown = throw_error(env, ddb.error_data_message(error));
    ddb.destroy_error_data(&error);
    free(type_ids);
    converter_finalize(env, c, NULL);
    return thrown;
  }
  if (error) ddb.destroy_error_data(&error);

  c->direct = c->columns > 0 && allow_direct;
  c->streamed = streamed;
  CHECK(napi_create_array_with_length(env, c->columns, &formats));
  for (idx_t i = 0; i < c->columns && i < (idx_t)schema.n_children; i++) {
    c->layouts[i] = layout_of(schema.children[i]);
    if (!direct_capable(type_ids[i], c->source_widths[i], c->layouts[i])) c->direct = 0;
    const char *name = c->layouts[i].kind == KIND_UNSUPPORTED ? "?" : schema.children[i]->format;
    CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &format));
    CHECK(napi_set_element(env, formats, (uint32_t)i, format));
  }
  if (schema.release) schema.release(&schema);
  free(type_ids);

  napi_value direct;
  CHECK(napi_create_external(env, c, converter_finalize, NULL, &external));
  CHECK(napi_create_object(env, &result));
  CHECK(napi_get_boolean(env, c->direct, &direct));
  CHECK(napi_set_named_property(env, result, "converter", external));
  CHECK(napi_set_named_property(env, result, "formats", formats));
  CHECK(napi_set_named_property(env, result, "direct", direct));
  return result;
}

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

/* Fetched chunks owned by JS until convert() consumes them (or GC frees them, if never converted). */
typedef struct {
  duckdb_data_chunk chunks[GROUP_CHUNKS];
  int count;
  int last; /* the result is exhausted: fetching again would be an error */
} chunk_group;

static void destroy_group(chunk_group *g) {
  for (int i = 0; i < g->count; i++) {
    if (g->chunks[i]) ddb.destroy_data_chunk(&g->chunks[i]);
  }
  g->count = 0;
}

static void chunk_group_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  destroy_group((chunk_group *)data);
  free(data);
}

/* One asynchronous step (fetch or convert): inputs, the JS values it keeps alive, its outcome. */
typedef struct {
  converter *conv;
  duckdb_result *result;
  chunk_group *group;        /* convert: the chunks to convert */
  napi_ref refs[2];
  napi_deferred deferred;
  napi_async_work work;
  chunk_group *fetched;      /* fetch: the next chunks, NULL at the end */
  uint8_t *block;            /* convert: packed output */
  size_t block_size;
  char *error;
} job;

/* Copies n bits from src (from bit src_at) to dst (from bit dst_at); whole bytes when both align. */
static void copy_bits(uint8_t *dst, size_t dst_at, const uint8_t *src, size_t src_at, size_t n) {
  if (dst_at % 8 == 0 && src_at % 8 == 0) {
    memcpy(dst + dst_at / 8, src + src_at / 8, n / 8);
    dst_at += n / 8 * 8; src_at += n / 8 * 8; n %= 8;
  }
  for (size_t k = 0; k < n; k++, dst_at++, src_at++) {
    if (src[src_at / 8] >> (src_at % 8) & 1) dst[dst_at / 8] |= (uint8_t)(1u << (dst_at % 8));
    else dst[dst_at / 8] &= (uint8_t)~(1u << (dst_at % 8));
  }
}

static void set_bits(uint8_t *dst, size_t dst_at, size_t n) {
  for (size_t k = 0; k < n; k++, dst_at++) dst[dst_at / 8] |= (uint8_t)(1u << (dst_at % 8));
}

/* Whether a chunk's column has a validity bitmap worth reading (DuckDB omits it without nulls). */
static int has_validity(const struct ArrowArray *a) {
  return a->n_buffers > 0 && a->buffers[0] && a->null_count != 0;
}

/* String bytes of rows [offset, offset + length) of a string column. */
static size_t string_bytes(const struct ArrowArray *a, column_kind kind) {
  size_t from = (size_t)a->offset, to = from + (size_t)a->length;
  if (kind == KIND_STRING32) return (size_t)(((const int32_t *)a->buffers[1])[to] - ((const int32_t *)a->buffers[1])[from]);
  return (size_t)(((const int64_t *)a->buffers[1])[to] - ((const int64_t *)a->buffers[1])[from]);
}

/* Sizes of one column's validity, offsets and data once the chunks are laid end to end. */
static void merged_sizes(struct ArrowArray *const *cols, int chunks, column_layout l, size_t total_rows, size_t sizes[3], int64_t *null_count) {
  int any_validity = 0;
  size_t string_total = 0;
  *null_count = 0;
  for (int b = 0; b < chunks; b++) {
    if (has_validity(cols[b])) any_validity = 1;
    if (cols[b]->null_count < 0 || *null_count < 0) *null_count = -1;
    else *null_count += cols[b]->null_count;
    if (l.kind == KIND_STRING32 || l.kind == KIND_STRING64) string_total += string_bytes(cols[b], l.kind);
  }
  sizes[0] = any_validity && l.kind != KIND_NULL ? (total_rows + 7) / 8 : 0;
  sizes[1] = l.kind == KIND_STRING32 ? (total_rows + 1) * 4 : l.kind == KIND_STRING64 ? (total_rows + 1) * 8 : 0;
  sizes[2] = l.kind == KIND_FIXED ? total_rows * (size_t)l.width : l.kind == KIND_BOOL ? (total_rows + 7) / 8 : string_total;
}

/* Writes one column of every chunk, end to end, into validity / offsets / data. */
static void merge_column(struct ArrowArray *const *cols, int chunks, column_layout l, uint8_t *validity, uint8_t *offsets, uint8_t *data) {
  size_t row = 0, bytes = 0;
  if (offsets && l.kind == KIND_STRING32) ((int32_t *)offsets)[0] = 0;
  if (offsets && l.kind == KIND_STRING64) ((int64_t *)offsets)[0] = 0;
  for (int b = 0; b < chunks; b++) {
    const struct ArrowArray *a = cols[b];
    size_t n = (size_t)a->length, at = (size_t)a->offset;
    if (validity) {
      if (has_validity(a)) copy_bits(validity, row, (const uint8_t *)a->buffers[0], at, n);
      else set_bits(validity, row, n);
    }
    const uint8_t *values = (const uint8_t *)a->buffers[a->n_buffers - 1];
    switch (l.kind) {
      case KIND_FIXED: if (n) memcpy(data + row * (size_t)l.width, values + at * (size_t)l.width, n * (size_t)l.width); break;
      case KIND_BOOL: copy_bits(data, row, values, at, n); break;
      case KIND_STRING32: {
        const int32_t *src = (const int32_t *)a->buffers[1];
        int32_t *dst = (int32_t *)offsets;
        for (size_t k = 1; k <= n; k++) dst[row + k] = (int32_t)(bytes + (size_t)(src[at + k] - src[at]));
        if (src[at + n] > src[at]) memcpy(data + bytes, values + src[at], (size_t)(src[at + n] - src[at]));
        bytes += (size_t)(src[at + n] - src[at]);
        break;
      }
      case KIND_STRING64: {
        const int64_t *src = (const int64_t *)a->buffers[1];
        int64_t *dst = (int64_t *)offsets;
        for (size_t k = 1; k <= n; k++) dst[row + k] = (int64_t)(bytes + (size_t)(src[at + k] - src[at]));
        if (src[at + n] > src[at]) memcpy(data + bytes, values + src[at], (size_t)(src[at + n] - src[at]));
        bytes += (size_t)(src[at + n] - src[at]);
        break;
      }
      default: break;
    }
    row += n;
  }
}

/*
 * Lays out one column's buffers in a block from `at` (8-byte aligned), records their offsets and
 * lengths in its META_FIELDS, zeroes the bitmaps (they are written bit by bit), and returns where
 * the next column starts. `buffers` (optional) receives the three buffer pointers.
 */
static size_t place_column(uint8_t *out, size_t at, int32_t *m, column_layout l, const size_t sizes[3], int64_t nulls, uint8_t *buffers[3]) {
  m[META_NULL_COUNT] = nulls > INT32_MAX ? -1 : (int32_t)nulls;
  m[META_ARRAY_OFFSET] = 0;
  /* a string column always has offsets; a fixed one data; validity only when some chunk has nulls */
  const int present[3] = {sizes[0] > 0, l.kind == KIND_STRING32 || l.kind == KIND_STRING64, l.kind != KIND_NULL};
  const int slots[3] = {META_VALIDITY, META_OFFSETS, META_DATA};
  for (int k = 0; k < 3; k++) {
    uint8_t *buffer = present[k] ? out + at : NULL;
    if (buffers) buffers[k] = buffer;
    m[slots[k]] = present[k] ? (int32_t)at : -1;
    m[slots[k] + 1] = (int32_t)sizes[k];
    at += align8(sizes[k]);
  }
  if (present[0]) memset(out + m[META_VALIDITY], 0, sizes[0]); /* set_bits only sets; copy_bits writes each bit */
  if (l.kind == KIND_BOOL) memset(out + m[META_DATA], 0, sizes[2]);
  return at;
}

/*
 * Where a converted block lives. Blocks of a few MB come and go hundreds of times a second: from
 * malloc, glibc hands them out of per-thread arenas that keep freed ones resident (10-15 MB more
 * growth over 100 M Parquet rows) and every fresh 4 KB page of them faults. A block that fills
 * whole 2 MB pages with little to spare is instead mapped on its own as transparent huge pages
 * (Linux, when THP is "always" or "madvise"): one fault per 2 MB, and unmapped the moment V8
 * frees it. Smaller or awkwardly sized blocks keep malloc, and so do the blocks of a caller that
 * keeps every batch (toArrow): finding ever more fresh 2 MB pages costs the kernel more than the
 * faults it saves (1.16x CPU there). Whether a block is huge follows from its size and that wish
 * (`streamed`), which its finalizer gets back in the low bit of its size (sizes are multiples of 8).
 */
#define HUGE_PAGE ((size_t)2 << 20)
static int huge_pages = 0; /* set once per process (pthread_once in js_load) before any block exists: never changes after */
static size_t huge_blocks = 0;

static void detect_huge_pages(void) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  char mode[128] = "";
  FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (!f) return;
  if (fgets(mode, sizeof mode, f)) huge_pages = strstr(mode, "[always]") != NULL || strstr(mode, "[madvise]") != NULL;
  fclose(f);
#endif
}

/* The bytes a block of `size` maps as huge pages, or 0 when it comes from malloc (a quarter wasted at most). */
static size_t huge_span(size_t size, int wanted) {
  if (!huge_pages || !wanted) return 0;
  size_t span = (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
  return span - size <= size / 4 ? span : 0;
}

static void *block_alloc(size_t size, int streamed) {
  size_t span = huge_span(size, streamed);
  if (!span) return malloc(size);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  /* a huge page must start on a 2 MB boundary: map 2 MB more and give back the ends */
  uint8_t *raw = mmap(NULL, span + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return NULL;
  uint8_t *start = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
  if (start > raw) munmap(raw, (size_t)(start - raw));
  munmap(start + span, (size_t)(raw + HUGE_PAGE - start));
  madvise(start, span, MADV_HUGEPAGE);
  __atomic_add_fetch(&huge_blocks, 1, __ATOMIC_RELAXED);
  return start;
#else
  return NULL;
#endif
}

static void block_free(void *block, size_t size, int streamed) {
  if (!block) return;
  size_t span = huge_span(size, streamed);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (span) {
    munmap(block, span);
    return;
  }
#endif
  free(block);
}

/* A block of `total` bytes holding one batch of `rows` rows, its header written; NULL when out of
 * memory or over what int32 offsets reach. */
static uint8_t *start_block(const converter *c, size_t total, size_t rows) {
  if (total > INT32_MAX) return NULL;
  uint8_t *out = block_alloc(total, c->streamed);
  if (!out) return NULL;
  int32_t *meta = (int32_t *)out;
  meta[HEADER_BATCHES] = 1;
  meta[HEADER_COLUMNS] = (int32_t)c->columns;
  meta[HEADER_FIELDS] = (int32_t)rows;
  return out;
}

/*
 * Packs converted chunks as ONE batch: each column's chunks laid end to end (bitmaps shifted,
 * string offsets rebased), so JS gets one RecordBatch of up to GROUP_ROWS rows instead of several
 * 2048-row ones. Returns NULL when out of memory or when the block would outgrow int32 offsets.
 */
static uint8_t *pack(const converter *c, struct ArrowArray *arrays, const idx_t *rows, int chunks, size_t *size_out) {
  size_t per_batch = 1 + c->columns * META_FIELDS;
  size_t header = align8((HEADER_FIELDS + per_batch) * sizeof(int32_t));
  size_t total_rows = 0, total = header;
  struct ArrowArray *cols[GROUP_CHUNKS];
  for (int b = 0; b < chunks; b++) total_rows += rows[b];
  for (idx_t i = 0; i < c->columns; i++) {
    size_t sizes[3];
    int64_t nulls;
    for (int b = 0; b < chunks; b++) cols[b] = arrays[b].children[i];
    merged_sizes(cols, chunks, c->layouts[i], total_rows, sizes, &nulls);
    if (c->layouts[i].kind == KIND_STRING32 && sizes[2] > INT32_MAX) return NULL;
    total += align8(sizes[0]) + align8(sizes[1]) + align8(sizes[2]);
  }
  uint8_t *out = start_block(c, total, total_rows);
  if (!out) return NULL;
  int32_t *batch_meta = (int32_t *)out + HEADER_FIELDS;
  size_t at = header;
  for (idx_t i = 0; i < c->columns; i++) {
    size_t sizes[3];
    int64_t nulls;
    for (int b = 0; b < chunks; b++) cols[b] = arrays[b].children[i];
    merged_sizes(cols, chunks, c->layouts[i], total_rows, sizes, &nulls);
    uint8_t *buffers[3];
    at = place_column(out, at, batch_meta + 1 + i * META_FIELDS, c->layouts[i], sizes, nulls, buffers);
    merge_column(cols, chunks, c->layouts[i], buffers[0], buffers[1], buffers[2]);
  }
  *size_out = total;
  return out;
}

/* Number of valid rows among the first n of a DuckDB validity mask (bit set = valid). */
static size_t valid_count(const uint64_t *validity, size_t n) {
  size_t valid = 0, words = n / 64;
  for (size_t w = 0; w < words; w++) valid += (size_t)__builtin_popcountll(validity[w]);
  if (n % 64) valid += (size_t)__builtin_popcountll(validity[words] & ((1ULL << (n % 64)) - 1));
  return valid;
}

static uint32_t string_length(const duckdb_string *s) { return s->inlined.length; }

static const char *string_data(const duckdb_string *s) {
  return s->inlined.length <= 12 ? s->inlined.inlined : s->pointer.ptr;
}

/* One column of one chunk, as DuckDB holds it (flat vectors: results are flattened when fetched). */
typedef struct {
  const uint8_t *data;
  const uint64_t *validity; /* NULL: every row valid */
  size_t rows;
  int width; /* bytes per value in the vector (fixed-width columns) */
} column_part;

/* A column's validity / offsets / data sizes in a block, and its null count. */
typedef struct {
  size_t sizes[3];
  int64_t nulls;
} column_sizes;

/* Sizes of validity / offsets / data of one column over the parts, as merged_sizes does for Arrow. */
static void direct_sizes(const column_part *parts, int chunks, column_layout l, size_t total_rows, size_t sizes[3], int64_t *null_count) {
  size_t nulls = 0, string_total = 0;
  for (int b = 0; b < chunks; b++) {
    const column_part *p = &parts[b];
    if (p->validity) nulls += p->rows - valid_count(p->validity, p->rows);
    if (l.kind != KIND_STRING32 && l.kind != KIND_STRING64) continue;
    const duckdb_string *strings = (const duckdb_string *)p->data;
    for (size_t r = 0; r < p->rows; r++) {
      if (!p->validity || (p->validity[r / 64] >> (r % 64) & 1)) string_total += string_length(&strings[r]);
    }
  }
  *null_count = (int64_t)nulls;
  sizes[0] = nulls > 0 ? (total_rows + 7) / 8 : 0;
  sizes[1] = l.kind == KIND_STRING32 ? (total_rows + 1) * 4 : l.kind == KIND_STRING64 ? (total_rows + 1) * 8 : 0;
  sizes[2] = l.kind == KIND_FIXED ? total_rows * (size_t)l.width : l.kind == KIND_BOOL ? (total_rows + 7) / 8 : string_total;
}

/* n integers of `width` bytes as 16-byte little-endian two's complement (a DECIMAL's decimal128). */
static void widen_to_128(uint8_t *out, const uint8_t *in, int width, size_t n) {
  int64_t *to = (int64_t *)out;
  for (size_t r = 0; r < n; r++) {
    int64_t v = width == 2 ? ((const int16_t *)in)[r] : width == 4 ? ((const int32_t *)in)[r] : ((const int64_t *)in)[r];
    to[2 * r] = v;
    to[2 * r + 1] = v < 0 ? -1 : 0;
  }
}

/* Writes one column of every part end to end (merge_column's twin over DuckDB vectors). */
static void direct_merge(const column_part *parts, int chunks, column_layout l, uint8_t *validity, uint8_t *offsets, uint8_t *data) {
  size_t row = 0, bytes = 0;
  if (l.kind == KIND_STRING32) ((int32_t *)offsets)[0] = 0;
  if (l.kind == KIND_STRING64) ((int64_t *)offsets)[0] = 0;
  for (int b = 0; b < chunks; b++) {
    const column_part *p = &parts[b];
    size_t n = p->rows;
    if (validity) {
      if (p->validity) copy_bits(validity, row, (const uint8_t *)p->validity, 0, n);
      else set_bits(validity, row, n);
    }
    switch (l.kind) {
      case KIND_FIXED:
        if (p->width == l.width) {
          if (n) memcpy(data + row * (size_t)l.width, p->data, n * (size_t)l.width);
        } else {
          widen_to_128(data + row * 16, p->data, p->width, n);
        }
        break;
      case KIND_BOOL:
        for (size_t r = 0; r < n; r++) {
          if (p->data[r]) data[(row + r) / 8] |= (uint8_t)(1u << ((row + r) % 8));
        }
        break;
      case KIND_STRING32: case KIND_STRING64: {
        const duckdb_string *strings = (const duckdb_string *)p->data;
        for (size_t r = 0; r < n; r++) {
          if (!p->validity || (p->validity[r / 64] >> (r % 64) & 1)) {
            memcpy(data + bytes, string_data(&strings[r]), string_length(&strings[r]));
            bytes += string_length(&strings[r]);
          }
          if (l.kind == KIND_STRING32) ((int32_t *)offsets)[row + r + 1] = (int32_t)bytes;
          else ((int64_t *)offsets)[row + r + 1] = (int64_t)bytes;
        }
        break;
      }
      default: break;
    }
    row += n;
  }
}

/*
 * pack()'s fast path: the chunks' vectors written straight into ONE block, without DuckDB's Arrow
 * appender in between (it copies every value into buffers of its own, which pack then copies again).
 * Only for columns whose vector already is the Arrow layout (numbers, dates, times, timestamps) or
 * one step from it (booleans: bytes to bits; text and blobs: DuckDB's 16-byte strings to offsets
 * and bytes). Same block format as pack().
 */
static uint8_t *pack_direct(const converter *c, duckdb_data_chunk *chunks, const idx_t *rows, int count, size_t *size_out) {
  size_t per_batch = 1 + c->columns * META_FIELDS;
  size_t header = align8((HEADER_FIELDS + per_batch) * sizeof(int32_t));
  size_t total_rows = 0, total = header;
  column_part parts[GROUP_CHUNKS];
  for (int b = 0; b < count; b++) total_rows += rows[b];
  /* the parts of column i, read once per pass */
#define READ_PARTS(i)                                                                                  \
  for (int b = 0; b < count; b++) {                                                                   \
    duckdb_vector v = ddb.data_chunk_get_vector(chunks[b], (i));                                      \
    parts[b].data = (const uint8_t *)ddb.vector_get_data(v);                                          \
    parts[b].validity = ddb.vector_get_validity(v);                                                   \
    parts[b].rows = rows[b];                                                                          \
    parts[b].width = c->source_widths[i];                                                             \
  }
  /* measured once (a text column's is a pass over its rows), used to size and then to place */
  column_sizes *measured = malloc((c->columns ? c->columns : 1) * sizeof *measured);
  if (!measured) return NULL;
  for (idx_t i = 0; i < c->columns; i++) {
    size_t *sizes = measured[i].sizes;
    READ_PARTS(i);
    direct_sizes(parts, count, c->layouts[i], total_rows, sizes, &measured[i].nulls);
    if (c->layouts[i].kind == KIND_STRING32 && sizes[2] > INT32_MAX) {
      free(measured);
      return NULL;
    }
    total += align8(sizes[0]) + align8(sizes[1]) + align8(sizes[2]);
  }
  uint8_t *out = start_block(c, total, total_rows);
  if (!out) {
    free(measured);
    return NULL;
  }
  int32_t *batch_meta = (int32_t *)out + HEADER_FIELDS;
  size_t at = header;
  for (idx_t i = 0; i < c->columns; i++) {
    READ_PARTS(i);
    at = place_column(out, at, batch_meta + 1 + i * META_FIELDS, c->layouts[i], measured[i].sizes, measured[i].nulls, NULL);
    int32_t *m = batch_meta + 1 + i * META_FIELDS;
    direct_merge(parts, count, c->layouts[i], m[META_VALIDITY] >= 0 ? out + m[META_VALIDITY] : NULL,
                 m[META_OFFSETS] >= 0 ? out + m[META_OFFSETS] : NULL, m[META_DATA] >= 0 ? out + m[META_DATA] : NULL);
  }
#undef READ_PARTS
  free(measured);
  *size_out = total;
  return out;
}

static char *copy_message(const char *message) {
  const char *text = message ? message : "unknown DuckDB error";
  char *copy = malloc(strlen(text) + 1);
  if (copy) strcpy(copy, text);
  return copy;
}

/* Worker thread: the next chunks of the streaming result, up to GROUP_ROWS rows (DuckDB runs the
 * query here). */
static void fetch_execute(napi_env env, void *data) {
  job *j = (job *)data;
  (void)env;
  chunk_group *g = calloc(1, sizeof *g);
  if (!g) {
    j->error = copy_message("out of memory fetching a chunk");
    return;
  }
  idx_t rows = 0;
  while (g->count < GROUP_CHUNKS && rows < GROUP_ROWS) {
    duckdb_data_chunk chunk = ddb.fetch_chunk(*j->result);
    if (!chunk) {
      const char *message = ddb.result_error(j->result);
      if (message) j->error = copy_message(message);
      g->last = 1;
      break;
    }
    idx_t size = ddb.data_chunk_get_size(chunk);
    if (size == 0) {
      ddb.destroy_data_chunk(&chunk);
      g->last = 1;
      break;
    }
    g->chunks[g->count++] = chunk;
    rows += size;
  }
  if (j->error || g->count == 0) {
    destroy_group(g);
    free(g);
    return;
  }
  j->fetched = g;
}

/* Worker thread: convert a group of chunks to Arrow (directly, or through DuckDB's appender), destroy
 * them at once, pack the buffers. */
static void convert_execute(napi_env env, void *data) {
  job *j = (job *)data;
  (void)env;
  chunk_group *g = j->group;
  struct ArrowArray arrays[GROUP_CHUNKS];
  idx_t rows[GROUP_CHUNKS];
  int converted = 0;
  memset(arrays, 0, sizeof arrays);
  if (g->count == 0) j->error = copy_message("chunks were already converted");
  if (j->conv->direct && !j->error) {
    for (int i = 0; i < g->count; i++) rows[i] = ddb.data_chunk_get_size(g->chunks[i]);
    j->block = pack_direct(j->conv, g->chunks, rows, g->count, &j->block_size);
    if (!j->block) j->error = copy_message("out of memory packing an Arrow batch (or a batch over 2 GB)");
    destroy_group(g);
    return;
  }
  for (int i = 0; i < g->count && !j->error; i++) {
    rows[i] = ddb.data_chunk_get_size(g->chunks[i]);
    duckdb_error_data error = ddb.data_chunk_to_arrow(j->conv->options, g->chunks[i], &arrays[i]);
    ddb.destroy_data_chunk(&g->chunks[i]);
    if (error && ddb.error_data_has_error(error)) j->error = copy_message(ddb.error_data_message(error));
    else converted++;
    if (error) ddb.destroy_error_data(&error);
  }
  destroy_group(g);
  if (!j->error) {
    j->block = pack(j->conv, arrays, rows, converted, &j->block_size);
    if (!j->block) j->error = copy_message("out of memory packing an Arrow batch (or a batch over 2 GB)");
  }
  for (int i = 0; i < GROUP_CHUNKS; i++) {
    if (arrays[i].release) arrays[i].release(&arrays[i]);
  }
}

static void free_block(napi_env env, void *data, void *hint) {
  int64_t ignored;
  size_t size = (size_t)(uintptr_t)hint & ~(size_t)1;
  int streamed = (int)((uintptr_t)hint & 1);
  block_free(data, size, streamed);
  if (streamed) napi_adjust_external_memory(env, -(int64_t)size, &ignored);
}

/* Main thread: the settled value of a job (a chunk handle, a packed block, or null). */
static napi_value job_value(napi_env env, job *j) {
  napi_value value = NULL;
  if (j->fetched) {
    /* [group, last] */
    napi_value group, last;
    if (napi_create_external(env, j->fetched, chunk_group_finalize, NULL, &group) == napi_ok) {
      int is_last = j->fetched->last;
      j->fetched = NULL; /* owned by the external now */
      if (napi_create_array_with_length(env, 2, &value) == napi_ok && napi_get_boolean(env, is_last, &last) == napi_ok &&
          napi_set_element(env, value, 0, group) == napi_ok && napi_set_element(env, value, 1, last) == napi_ok) {
        return value;
      }
    }
  } else if (j->block) {
    /* zero-copy where the runtime allows external buffers; V8 counts them either way */
    int streamed = j->conv->streamed != 0;
    void *hint = (void *)(uintptr_t)(j->block_size | (size_t)streamed);
    if (napi_create_external_arraybuffer(env, j->block, j->block_size, free_block, hint, &value) == napi_ok) {
      /* V8 counts an ArrayBuffer's bytes once; counted twice, a stream's dead blocks are collected
       * twice as often (half the memory they hold). Blocks a caller keeps (toArrow) are all alive:
       * collections they would trigger free nothing. */
      int64_t ignored;
      if (streamed) napi_adjust_external_memory(env, (int64_t)j->block_size, &ignored);
      j->block = NULL;
      return value;
    }
    void *copy = NULL;
    if (napi_create_arraybuffer(env, j->block_size, &copy, &value) == napi_ok && copy) {
      memcpy(copy, j->block, j->block_size);
      return value;
    }
  } else {
    napi_get_null(env, &value);
    return value;
  }
  j->error = copy_message("out of memory handing a batch to JS");
  return NULL;
}

static void job_complete(napi_env env, napi_status status, void *data) {
  job *j = (job *)data;
  napi_value value = NULL, message;
  if (status != napi_ok && !j->error) j->error = copy_message("the operation was cancelled");
  if (!j->error) value = job_value(env, j);
  if (j->error) {
    napi_create_string_utf8(env, j->error, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &value);
    napi_reject_deferred(env, j->deferred, value);
  } else {
    napi_resolve_deferred(env, j->deferred, value);
  }
  if (j->fetched) chunk_group_finalize(env, j->fetched, NULL);
  if (j->block) block_free(j->block, j->block_size, j->conv->streamed); /* a fetch job has no converter */
  free(j->error);
  for (int i = 0; i < 2; i++) {
    if (j->refs[i]) napi_delete_reference(env, j->refs[i]);
  }
  napi_delete_async_work(env, j->work);
  free(j);
}

/* Queues `j` on the libuv pool, keeping `keep` (the handles it uses) alive until it completes. */
static napi_value queue_job(napi_env env, job *j, napi_async_execute_callback execute, napi_value *keep, int count) {
  napi_value promise, name;
  for (int i = 0; i < count; i++) CHECK(napi_create_reference(env, keep[i], 1, &j->refs[i]));
  CHECK(napi_create_promise(env, &j->deferred, &promise));
  CHECK(napi_create_string_utf8(env, "bundlebase.arrow", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, execute, job_complete, j, &j->work));
  CHECK(napi_queue_async_work(env, j->work));
  return promise;
}

/*
 * fetch(result) -> Promise<[chunk group, last] | null>
 * The next chunks of a streaming result (null at the end; `last` when no more follow, so the caller
 * must not fetch again). One fetch per result at a time.
 */
static napi_value js_fetch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!loaded) return throw_error(env, "libduckdb symbols are not loaded");
  duckdb_result *result = argc < 1 ? NULL : (duckdb_result *)tagged_external(env, argv[0], &RESULT_TAG);
  if (!result) return throw_error(env, "fetch expects a DuckDB result");
  job *j = calloc(1, sizeof *j);
  if (!j) return throw_error(env, "out of memory");
  j->result = result;
  return queue_job(env, j, fetch_execute, argv, 1);
}

/*
 * convert(converter, chunk group) -> Promise<ArrayBuffer>
 * The chunks as packed Arrow buffers (see HEADER_* / META_*); they are destroyed on the way.
 * It may run while the next fetch() is under way: DuckDB fetches and we convert in parallel.
 */
static napi_value js_convert(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  converter *c = NULL;
  chunk_group *g = NULL;
  if (argc < 2 || napi_get_value_external(env, argv[0], (void **)&c) != napi_ok || !c ||
      napi_get_value_external(env, argv[1], (void **)&g) != napi_ok || !g) {
    return throw_error(env, "convert expects a converter and a fetched chunk");
  }
  job *j = calloc(1, sizeof *j);
  if (!j) return throw_error(env, "out of memory");
  j->conv = c;
  j->group = g;
  return queue_job(env, j, convert_execute, argv, 2);
}

/*
 * resultError(result) -> string | null
 * A streaming result that failed mid-way ends like an exhausted one (fetch returns no chunk); this
 * tells the two apart, which @duckdb/node-api cannot.
 */
static napi_value js_result_error(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], value;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!loaded) return throw_error(env, "libduckdb symbols are not loaded");
  duckdb_result *result = argc < 1 ? NULL : (duckdb_result *)tagged_external(env, argv[0], &RESULT_TAG);
  if (!result) return throw_error(env, "resultError expects a DuckDB result");
  const char *message = ddb.result_error(result);
  if (message) CHECK(napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &value));
  else CHECK(napi_get_null(env, &value));
  return value;
}

/* native/index_scan.c */
napi_value bundlebase_scan_csv_chunk(napi_env env, napi_callback_info info);
napi_value bundlebase_sort_entries(napi_env env, napi_callback_info info);
napi_value bundlebase_scan_json_chunk(napi_env env, napi_callback_info info);


/*
 * registerFunctionSource(connection, tableName, handler): see function_source.c; throws when
 * this libduckdb lacks the table function API.
 */
static napi_value js_register_function_source(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!function_sources_loaded) return throw_error(env, "libduckdb's table function symbols are not loaded");
  void **connection_holder = argc < 1 ? NULL : (void **)tagged_external(env, argv[0], &CONNECTION_TAG);
  return bundlebase_register_function_source(env, info, connection_holder ? *connection_holder : NULL);
}

/* allocatorSetting(name): an integer setting or statistic of DuckDB's jemalloc ("opt.narenas",
 * "stats.resident"), or null. Only for integer names: a string setting reads as its address.
 * jemalloc wants the exact width of each setting: 8 bytes (ssize_t, size_t) or 4 (unsigned). */
static napi_value js_allocator_setting(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1], result;
  char name[256];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_null(env, &result));
  if (!je_mallctl || argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) return result;
  int64_t wide = 0;
  uint32_t narrow = 0;
  size_t size = sizeof wide;
  uint64_t epoch = 1;
  if (strncmp(name, "stats.", 6) == 0) je_mallctl("epoch", NULL, NULL, &epoch, sizeof epoch); /* stats are a snapshot: refresh it */
  if (je_mallctl(name, &wide, &size, NULL, 0) == 0) CHECK(napi_create_double(env, (double)wide, &result));
  else if ((size = sizeof narrow, je_mallctl(name, &narrow, &size, NULL, 0) == 0)) CHECK(napi_create_double(env, narrow, &result));
  return result;
}

/* hugeBlockCount(): how many blocks this process mapped as huge pages (tests see the path was taken). */
static napi_value js_huge_block_count(napi_env env, napi_callback_info info) {
  napi_value result;
  (void)info;
  CHECK(napi_create_double(env, (double)__atomic_load_n(&huge_blocks, __ATOMIC_RELAXED), &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
#define METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}
  napi_property_descriptor props[] = {
    METHOD("load", js_load),
    METHOD("createConverter", js_create_converter),
    METHOD("fetch", js_fetch),
    METHOD("convert", js_convert),
    METHOD("resultError", js_result_error),
    METHOD("scanCsvChunk", bundlebase_scan_csv_chunk),
    METHOD("sortEntries", bundlebase_sort_entries),
    METHOD("scanJsonChunk", bundlebase_scan_json_chunk),
    METHOD("registerFunctionSource", js_register_function_source),
    METHOD("pushPage", bundlebase_push_page),
    METHOD("endSource", bundlebase_end_source),
    METHOD("allocatorSetting", js_allocator_setting),
    METHOD("hugeBlockCount", js_huge_block_count),
  };
#undef METHOD
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
