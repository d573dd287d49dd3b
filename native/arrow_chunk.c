/*
 * DuckDB data chunk -> Arrow buffers, using DuckDB's own converter (duckdb_data_chunk_to_arrow).
 *
 * Reading strings from JS costs one native call per value longer than 12 bytes; DuckDB already
 * knows how to write Arrow, so this addon asks it to, copies every Arrow buffer of the chunk into
 * ONE JS ArrayBuffer (so V8 accounts for the memory and the native copy is released at once), and
 * hands JS a small table of offsets to build apache-arrow Data from.
 *
 * It links to nothing: the DuckDB functions are looked up in the libduckdb.so that
 * @duckdb/node-bindings has already loaded (dlopen with RTLD_NOLOAD), so both share one library.
 * The connection and chunk handles come from @duckdb/node-api's type-tagged napi externals.
 */
#include <dlfcn.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

static struct {
  void (*connection_get_arrow_options)(duckdb_connection, duckdb_arrow_options *);
  void (*destroy_arrow_options)(duckdb_arrow_options *);
  duckdb_error_data (*data_chunk_to_arrow)(duckdb_arrow_options, duckdb_data_chunk, struct ArrowArray *);
  duckdb_error_data (*to_arrow_schema)(duckdb_arrow_options, duckdb_logical_type *, const char **, idx_t,
                                       struct ArrowSchema *);
  int (*error_data_has_error)(duckdb_error_data);
  const char *(*error_data_message)(duckdb_error_data);
  void (*destroy_error_data)(duckdb_error_data *);
  idx_t (*data_chunk_get_column_count)(duckdb_data_chunk);
  duckdb_vector (*data_chunk_get_vector)(duckdb_data_chunk, idx_t);
  duckdb_logical_type (*vector_get_column_type)(duckdb_vector);
  void (*destroy_logical_type)(duckdb_logical_type *);
  void (*data_chunk_reset)(duckdb_data_chunk);
  idx_t (*data_chunk_get_size)(duckdb_data_chunk);
} ddb;

static int loaded = 0;

/* Type tags of @duckdb/node-bindings' externals (bindings/src/externals.h). */
static const napi_type_tag CONNECTION_TAG = {0x922B9BF54AB04DFCULL, 0x8A258578D371DB71ULL};
static const napi_type_tag DATA_CHUNK_TAG = {0x2C7537AB063A4296ULL, 0xB1E70F08B0BBD1A3ULL};

/* One column's layout in the output buffer: byte offsets/lengths (-1 offset = buffer absent). */
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
} converter;

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
  LOAD(data_chunk_get_column_count, "duckdb_data_chunk_get_column_count");
  LOAD(data_chunk_get_vector, "duckdb_data_chunk_get_vector");
  LOAD(vector_get_column_type, "duckdb_vector_get_column_type");
  LOAD(destroy_logical_type, "duckdb_destroy_logical_type");
  LOAD(data_chunk_reset, "duckdb_data_chunk_reset");
  LOAD(data_chunk_get_size, "duckdb_data_chunk_get_size");
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
  free(c);
}

/*
 * createConverter(connection, chunk) -> { converter, formats: string[] }
 * The Arrow schema comes from the chunk's own column types, exactly as DuckDB exports them.
 */
static napi_value js_create_converter(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result, formats, external, format;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!loaded) return throw_error(env, "libduckdb symbols are not loaded");
  void **connection_holder = (void **)tagged_external(env, argv[0], &CONNECTION_TAG);
  duckdb_data_chunk chunk = tagged_external(env, argv[1], &DATA_CHUNK_TAG);
  if (!connection_holder || !chunk) return throw_error(env, "createConverter expects a DuckDB connection and data chunk");

  converter *c = calloc(1, sizeof *c);
  if (!c) return throw_error(env, "out of memory");
  ddb.connection_get_arrow_options(*connection_holder, &c->options);
  c->columns = ddb.data_chunk_get_column_count(chunk);
  c->layouts = calloc(c->columns ? c->columns : 1, sizeof *c->layouts);
  duckdb_logical_type *types = calloc(c->columns ? c->columns : 1, sizeof *types);
  const char **names = calloc(c->columns ? c->columns : 1, sizeof *names);
  if (!c->layouts || !types || !names) {
    free(types); free(names); converter_finalize(env, c, NULL);
    return throw_error(env, "out of memory");
  }
  for (idx_t i = 0; i < c->columns; i++) {
    types[i] = ddb.vector_get_column_type(ddb.data_chunk_get_vector(chunk, i));
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
    converter_finalize(env, c, NULL);
    return thrown;
  }
  if (error) ddb.destroy_error_data(&error);

  CHECK(napi_create_array_with_length(env, c->columns, &formats));
  for (idx_t i = 0; i < c->columns && i < (idx_t)schema.n_children; i++) {
    c->layouts[i] = layout_of(schema.children[i]);
    const char *name = c->layouts[i].kind == KIND_UNSUPPORTED ? "?" : schema.children[i]->format;
    CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &format));
    CHECK(napi_set_element(env, formats, (uint32_t)i, format));
  }
  if (schema.release) schema.release(&schema);

  CHECK(napi_create_external(env, c, converter_finalize, NULL, &external));
  CHECK(napi_create_object(env, &result));
  CHECK(napi_set_named_property(env, result, "converter", external));
  CHECK(napi_set_named_property(env, result, "formats", formats));
  return result;
}

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

/* Byte sizes of a column's validity, offsets and data buffers. */
static void buffer_sizes(const struct ArrowArray *a, column_layout l, size_t sizes[3]) {
  size_t slots = (size_t)(a->offset + a->length);
  sizes[0] = a->n_buffers > 0 && a->buffers[0] ? (slots + 7) / 8 : 0;
  sizes[1] = 0;
  sizes[2] = 0;
  switch (l.kind) {
    case KIND_FIXED: sizes[2] = slots * (size_t)l.width; break;
    case KIND_BOOL: sizes[2] = (slots + 7) / 8; break;
    case KIND_STRING32:
      sizes[1] = (slots + 1) * 4;
      sizes[2] = (size_t)((const int32_t *)a->buffers[1])[slots];
      break;
    case KIND_STRING64:
      sizes[1] = (slots + 1) * 8;
      sizes[2] = (size_t)((const int64_t *)a->buffers[1])[slots];
      break;
    default: break;
  }
}

/*
 * convert(converter, chunk) -> ArrayBuffer | null
 * The buffer starts with `columns * META_FIELDS` int32 (see META_*), then each Arrow buffer,
 * 8-byte aligned. The DuckDB chunk is reset afterwards, releasing its string heap at once.
 * null when the chunk holds a column type this converter does not handle.
 */
static napi_value js_convert(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  void *data = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  converter *c = NULL;
  if (napi_get_value_external(env, argv[0], (void **)&c) != napi_ok || !c) return throw_error(env, "bad converter");
  duckdb_data_chunk chunk = tagged_external(env, argv[1], &DATA_CHUNK_TAG);
  if (!chunk) return throw_error(env, "convert expects a DuckDB data chunk");
  for (idx_t i = 0; i < c->columns; i++) {
    if (c->layouts[i].kind == KIND_UNSUPPORTED) {
      CHECK(napi_get_null(env, &result));
      return result;
    }
  }

  struct ArrowArray array;
  memset(&array, 0, sizeof array);
  duckdb_error_data error = ddb.data_chunk_to_arrow(c->options, chunk, &array);
  if (error && ddb.error_data_has_error(error)) {
    napi_value thrown = throw_error(env, ddb.error_data_message(error));
    ddb.destroy_error_data(&error);
    if (array.release) array.release(&array);
    return thrown;
  }
  if (error) ddb.destroy_error_data(&error);

  size_t header = align8(c->columns * META_FIELDS * sizeof(int32_t));
  size_t total = header;
  for (idx_t i = 0; i < c->columns; i++) {
    size_t sizes[3];
    buffer_sizes(array.children[i], c->layouts[i], sizes);
    total += align8(sizes[0]) + align8(sizes[1]) + align8(sizes[2]);
  }
  if (napi_create_arraybuffer(env, total, &data, &result) != napi_ok) {
    array.release(&array);
    return throw_error(env, "cannot allocate the Arrow buffer");
  }
  int32_t *meta = (int32_t *)data;
  uint8_t *out = (uint8_t *)data;
  size_t at = header;
  for (idx_t i = 0; i < c->columns; i++) {
    const struct ArrowArray *col = array.children[i];
    size_t sizes[3];
    buffer_sizes(col, c->layouts[i], sizes);
    int32_t *m = meta + i * META_FIELDS;
    m[META_NULL_COUNT] = (int32_t)col->null_count;
    m[META_ARRAY_OFFSET] = (int32_t)col->offset;
    /* validity is buffer 0; offsets (strings) buffer 1; values are the last buffer */
    const void *sources[3] = {
      sizes[0] ? col->buffers[0] : NULL,
      sizes[1] ? col->buffers[1] : NULL,
      sizes[2] ? col->buffers[col->n_buffers - 1] : NULL,
    };
    const int slots[3] = {META_VALIDITY, META_OFFSETS, META_DATA};
    for (int b = 0; b < 3; b++) {
      m[slots[b]] = sources[b] ? (int32_t)at : -1;
      m[slots[b] + 1] = (int32_t)sizes[b];
      if (sources[b]) memcpy(out + at, sources[b], sizes[b]);
      at += align8(sizes[b]);
    }
  }
  array.release(&array);
  ddb.data_chunk_reset(chunk);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"load", NULL, js_load, NULL, NULL, NULL, napi_default, NULL},
    {"createConverter", NULL, js_create_converter, NULL, NULL, NULL, napi_default, NULL},
    {"convert", NULL, js_convert, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
