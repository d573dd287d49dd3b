/*
 * A function:// source as a DuckDB table function written in C, fed with whole pages from JS.
 *
 * Through @duckdb/node-api a table function calls into JS once per 2048-row chunk: a thread hop, a
 * few wrapper objects and copies per column, every time, on the JS thread. Here DuckDB's thread
 * fills its chunks itself from pages JS has already handed over (a queue, a few pages deep), and
 * asks JS for the next page before the queue runs dry, through a napi threadsafe function, without
 * waiting for the answer. JS is called synchronously only to bind (the columns of the current
 * definition), once per query.
 *
 * Requests to JS (handler(kind, id)): "bind" returns [names, type ids] (or throws); "need" asks for
 * one more page of source `id` (JS answers with pushPage / endSource / failSource); "close" says the
 * source is gone (DuckDB destroyed it: the query ended or the reader stopped early). Sources are
 * looked up by id, so a late answer for a closed source is dropped, never a dangling pointer.
 */
#include <math.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef void *duckdb_connection;
typedef void *duckdb_table_function;
typedef void *duckdb_bind_info;
typedef void *duckdb_init_info;
typedef void *duckdb_function_info;
typedef void *duckdb_data_chunk;
typedef void *duckdb_vector;
typedef void *duckdb_logical_type;
typedef uint64_t idx_t;
typedef void (*delete_callback)(void *);

/* DuckDB's duckdb_type values (a stable part of its C API). */
enum {
  T_BOOLEAN = 1, T_TINYINT, T_SMALLINT, T_INTEGER, T_BIGINT, T_UTINYINT, T_USMALLINT, T_UINTEGER, T_UBIGINT,
  T_FLOAT, T_DOUBLE, T_TIMESTAMP, T_DATE, T_VARCHAR = 17, T_BLOB = 18
};

static struct {
  duckdb_table_function (*create_table_function)(void);
  void (*destroy_table_function)(duckdb_table_function *);
  void (*table_function_set_name)(duckdb_table_function, const char *);
  void (*table_function_set_extra_info)(duckdb_table_function, void *, delete_callback);
  void (*table_function_set_bind)(duckdb_table_function, void (*)(duckdb_bind_info));
  void (*table_function_set_init)(duckdb_table_function, void (*)(duckdb_init_info));
  void (*table_function_set_function)(duckdb_table_function, void (*)(duckdb_function_info, duckdb_data_chunk));
  int (*register_table_function)(duckdb_connection, duckdb_table_function);
  void *(*bind_get_extra_info)(duckdb_bind_info);
  void (*bind_add_result_column)(duckdb_bind_info, const char *, duckdb_logical_type);
  void (*bind_set_bind_data)(duckdb_bind_info, void *, delete_callback);
  void (*bind_set_error)(duckdb_bind_info, const char *);
  void *(*init_get_extra_info)(duckdb_init_info);
  void *(*init_get_bind_data)(duckdb_init_info);
  void (*init_set_init_data)(duckdb_init_info, void *, delete_callback);
  void (*init_set_max_threads)(duckdb_init_info, idx_t);
  void *(*function_get_init_data)(duckdb_function_info);
  void (*function_set_error)(duckdb_function_info, const char *);
  duckdb_logical_type (*create_logical_type)(int);
  void (*destroy_logical_type)(duckdb_logical_type *);
  duckdb_vector (*data_chunk_get_vector)(duckdb_data_chunk, idx_t);
  void (*data_chunk_set_size)(duckdb_data_chunk, idx_t);
  void *(*vector_get_data)(duckdb_vector);
  void (*vector_ensure_validity_writable)(duckdb_vector);
  uint64_t *(*vector_get_validity)(duckdb_vector);
  void (*validity_set_row_invalid)(uint64_t *, idx_t);
  void (*vector_assign_string_element_len)(duckdb_vector, idx_t, const char *, idx_t);
} fs;

#define LOAD(field, symbol)                                                                             \
  do {                                                                                                  \
    *(void **)(&fs.field) = dlsym_fn(handle, symbol);                                                   \
    if (!fs.field) return 0;                                                                            \
  } while (0)

/* Called by arrow_chunk.c's load() with the libduckdb handle; 1 when every symbol is there. */
int bundlebase_function_source_load(void *handle, void *(*dlsym_fn)(void *, const char *)) {
  LOAD(create_table_function, "duckdb_create_table_function");
  LOAD(destroy_table_function, "duckdb_destroy_table_function");
  LOAD(table_function_set_name, "duckdb_table_function_set_name");
  LOAD(table_function_set_extra_info, "duckdb_table_function_set_extra_info");
  LOAD(table_function_set_bind, "duckdb_table_function_set_bind");
  LOAD(table_function_set_init, "duckdb_table_function_set_init");
  LOAD(table_function_set_function, "duckdb_table_function_set_function");
  LOAD(register_table_function, "duckdb_register_table_function");
  LOAD(bind_get_extra_info, "duckdb_bind_get_extra_info");
  LOAD(bind_add_result_column, "duckdb_bind_add_result_column");
  LOAD(bind_set_bind_data, "duckdb_bind_set_bind_data");
  LOAD(bind_set_error, "duckdb_bind_set_error");
  LOAD(init_get_extra_info, "duckdb_init_get_extra_info");
  LOAD(init_get_bind_data, "duckdb_init_get_bind_data");
  LOAD(init_set_init_data, "duckdb_init_set_init_data");
  LOAD(init_set_max_threads, "duckdb_init_set_max_threads");
  LOAD(function_get_init_data, "duckdb_function_get_init_data");
  LOAD(function_set_error, "duckdb_function_set_error");
  LOAD(create_logical_type, "duckdb_create_logical_type");
  LOAD(destroy_logical_type, "duckdb_destroy_logical_type");
  LOAD(data_chunk_get_vector, "duckdb_data_chunk_get_vector");
  LOAD(data_chunk_set_size, "duckdb_data_chunk_set_size");
  LOAD(vector_get_data, "duckdb_vector_get_data");
  LOAD(vector_ensure_validity_writable, "duckdb_vector_ensure_validity_writable");
  LOAD(vector_get_validity, "duckdb_vector_get_validity");
  LOAD(validity_set_row_invalid, "duckdb_validity_set_row_invalid");
  LOAD(vector_assign_string_element_len, "duckdb_vector_assign_string_element_len");
  return 1;
}

#define CHUNK_ROWS 2048
/* pages queued ahead of the one being read: memory stays a few pages, JS seldom keeps DuckDB waiting */
#define PAGES_AHEAD 2

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, "BUNDLEBASE_NATIVE", message);
  return NULL;
}

#define CHECK(call)                                                                                     \
  do {                                                                                                  \
    if ((call) != napi_ok) return NULL;                                                                 \
  } while (0)

/* One column of a page. Numbers arrive as doubles (converted on DuckDB's thread) or as the exact
 * bytes of the column's type; text as UTF-16 units cut by lengths; bytes cut by lengths. */
typedef struct {
  void *data;
  int32_t *lengths; /* text (UTF-16 units) and blobs (bytes); NULL otherwise */
  uint8_t *valid;   /* 1 per row, NULL when every row is valid */
  int from_double;
} page_column;

typedef struct page {
  struct page *next;
  idx_t rows;
  idx_t read;        /* rows handed to DuckDB so far */
  size_t *cursors;   /* text/blob columns: where the next row's units/bytes start */
  page_column *columns;
} page;

typedef struct {
  idx_t columns;
  int *types;
} bind_data;

typedef struct function_info function_info;

typedef struct source {
  struct source *next_live;
  int64_t id;
  int refs; /* DuckDB's, and JS's until it has seen "close" */
  function_info *fn;
  idx_t columns;
  int *types;
  pthread_mutex_t lock;
  pthread_cond_t changed;
  page *head, *tail; /* queued pages */
  int queued;
  int requested;     /* a "need" is on its way to JS */
  int ended;
  char *error;
  page *current;     /* DuckDB's thread only */
  uint8_t *utf8;     /* DuckDB's thread only: one value's UTF-8 */
  size_t utf8_cap;
} source;

struct function_info {
  napi_threadsafe_function call;
  volatile int finalized; /* Node closed the threadsafe function (the environment is going away) */
};

/* Calls JS through the function's threadsafe function; fails once Node has closed it. */
static napi_status post(function_info *fn, void *data, napi_threadsafe_function_call_mode mode) {
  if (fn->finalized) return napi_closing;
  return napi_call_threadsafe_function(fn->call, data, mode);
}

enum { REQUEST_BIND, REQUEST_NEED, REQUEST_CLOSE };

typedef struct {
  int kind;
  int64_t id;
  source *closing;
  /* bind: the answer, and a wait for it */
  int answered;
  pthread_mutex_t lock;
  pthread_cond_t done;
  idx_t columns;
  char **names;
  int *types;
  char *error;
} request;

/* Live sources, by id (few: one per running read of a function source). */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static source *live;
static int64_t next_id = 1;

static char *copy_text(const char *text) {
  char *copy = malloc(strlen(text) + 1);
  if (copy) strcpy(copy, text);
  return copy;
}

static void free_page(page *p, idx_t columns) {
  if (!p) return;
  for (idx_t c = 0; c < columns && p->columns; c++) {
    free(p->columns[c].data);
    free(p->columns[c].lengths);
    free(p->columns[c].valid);
  }
  free(p->columns);
  free(p->cursors);
  free(p);
}

static void source_release(source *s) {
  pthread_mutex_lock(&live_lock);
  int last = --s->refs == 0;
  if (last) {
    for (source **at = &live; *at; at = &(*at)->next_live) {
      if (*at == s) {
        *at = s->next_live;
        break;
      }
    }
  }
  pthread_mutex_unlock(&live_lock);
  if (!last) return;
  for (page *p = s->head; p;) {
    page *next = p->next;
    free_page(p, s->columns);
    p = next;
  }
  free_page(s->current, s->columns);
  free(s->types);
  free(s->error);
  free(s->utf8);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->changed);
  free(s);
}

/* The live source with this id, with a reference the caller releases; NULL once it is closed. */
static source *source_by_id(int64_t id) {
  pthread_mutex_lock(&live_lock);
  source *s = live;
  while (s && s->id != id) s = s->next_live;
  if (s) s->refs++;
  pthread_mutex_unlock(&live_lock);
  return s;
}

static void free_request(request *r) {
  for (idx_t c = 0; r->names && c < r->columns; c++) free(r->names[c]);
  free(r->names);
  free(r->types);
  free(r->error);
  pthread_mutex_destroy(&r->lock);
  pthread_cond_destroy(&r->done);
  free(r);
}

static request *new_request(int kind, int64_t id) {
  request *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->kind = kind;
  r->id = id;
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->done, NULL);
  return r;
}

/* The message of the exception pending in JS (cleared), or a copy of `fallback`. */
static char *pending_message(napi_env env, const char *fallback) {
  napi_value error, message;
  char buffer[1024];
  size_t length;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return copy_text(fallback);
  napi_get_and_clear_last_exception(env, &error);
  if (napi_coerce_to_string(env, error, &message) == napi_ok &&
      napi_get_value_string_utf8(env, message, buffer, sizeof buffer, &length) == napi_ok) {
    return copy_text(buffer);
  }
  return copy_text(fallback);
}

/* Main thread: [names, type ids] returned by the handler's bind, into the request. */
static void read_bind_answer(napi_env env, napi_value answer, request *r) {
  napi_value names, types, value;
  uint32_t count = 0, count2 = 0;
  if (napi_get_element(env, answer, 0, &names) != napi_ok || napi_get_element(env, answer, 1, &types) != napi_ok ||
      napi_get_array_length(env, names, &count) != napi_ok || napi_get_array_length(env, types, &count2) != napi_ok ||
      count != count2 || count == 0) {
    r->error = pending_message(env, "the function source's bind answer is not [names, types]");
    return;
  }
  r->names = calloc(count, sizeof *r->names);
  r->types = calloc(count, sizeof *r->types);
  if (!r->names || !r->types) {
    r->error = copy_text("out of memory");
    return;
  }
  r->columns = count;
  for (uint32_t c = 0; c < count; c++) {
    size_t length;
    int32_t type;
    if (napi_get_element(env, names, c, &value) != napi_ok || napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok ||
        !(r->names[c] = malloc(length + 1)) || napi_get_value_string_utf8(env, value, r->names[c], length + 1, &length) != napi_ok ||
        napi_get_element(env, types, c, &value) != napi_ok || napi_get_value_int32(env, value, &type) != napi_ok) {
      r->error = pending_message(env, "the function source's bind answer is not [names, types]");
      return;
    }
    r->types[c] = type;
  }
}

static void deliver(source *s, struct page *p, const char *error, int end);

/* Main thread: delivers a request to the JS handler. */
static void call_js(napi_env env, napi_value handler, void *context, void *data) {
  request *r = (request *)data;
  (void)context;
  static const char *kinds[] = {"bind", "need", "close"};
  if (env && handler) {
    napi_value args[2], global, answer;
    napi_create_string_utf8(env, kinds[r->kind], NAPI_AUTO_LENGTH, &args[0]);
    napi_create_int64(env, r->id, &args[1]);
    napi_get_global(env, &global);
    if (napi_call_function(env, global, handler, 2, args, &answer) != napi_ok) {
      r->error = pending_message(env, "the function source's handler failed");
    } else if (r->kind == REQUEST_BIND) {
      read_bind_answer(env, answer, r);
    }
  } else {
    r->error = copy_text("the JS side of the function source is gone");
  }
  if (r->kind == REQUEST_NEED && r->error) {
    /* nobody will answer this request: DuckDB's thread must not wait for it */
    source *s = source_by_id(r->id);
    if (s) {
      deliver(s, NULL, r->error, 0);
      source_release(s);
    }
  }
  if (r->kind == REQUEST_CLOSE) {
    source_release(r->closing);
    free_request(r);
    return;
  }
  if (r->kind == REQUEST_NEED) {
    free_request(r);
    return;
  }
  pthread_mutex_lock(&r->lock);
  r->answered = 1;
  pthread_cond_signal(&r->done);
  pthread_mutex_unlock(&r->lock);
}

static void destroy_bind_data(void *data) {
  bind_data *b = (bind_data *)data;
  free(b->types);
  free(b);
}

/* DuckDB thread: the columns of the current definition, from JS (once per query). */
static void fs_bind(duckdb_bind_info info) {
  function_info *fn = (function_info *)fs.bind_get_extra_info(info);
  request *r = new_request(REQUEST_BIND, 0);
  if (!r) {
    fs.bind_set_error(info, "out of memory");
    return;
  }
  if (post(fn, r, napi_tsfn_blocking) != napi_ok) {
    free_request(r);
    fs.bind_set_error(info, "the JS side of the function source is gone");
    return;
  }
  pthread_mutex_lock(&r->lock);
  while (!r->answered) pthread_cond_wait(&r->done, &r->lock);
  pthread_mutex_unlock(&r->lock);
  if (r->error) {
    fs.bind_set_error(info, r->error);
    free_request(r);
    return;
  }
  bind_data *b = calloc(1, sizeof *b);
  if (!b) {
    fs.bind_set_error(info, "out of memory");
    free_request(r);
    return;
  }
  b->columns = r->columns;
  b->types = r->types;
  r->types = NULL;
  for (idx_t c = 0; c < b->columns; c++) {
    duckdb_logical_type type = fs.create_logical_type(b->types[c]);
    fs.bind_add_result_column(info, r->names[c], type);
    fs.destroy_logical_type(&type);
  }
  fs.bind_set_bind_data(info, b, destroy_bind_data);
  free_request(r);
}

/* DuckDB thread, source locked: asks JS for one more page unless a request is on its way. */
static void request_page(source *s) {
  if (s->requested || s->ended || s->error || s->queued >= PAGES_AHEAD) return;
  request *r = new_request(REQUEST_NEED, s->id);
  if (!r) return;
  if (post(s->fn, r, napi_tsfn_nonblocking) != napi_ok) {
    free_request(r);
    s->error = copy_text("the JS side of the function source is gone");
    return;
  }
  s->requested = 1;
}

/* DuckDB destroys the init data when the read ends or is abandoned: JS hears "close". */
static void destroy_source(void *data) {
  source *s = (source *)data;
  request *r = new_request(REQUEST_CLOSE, s->id);
  if (r) {
    r->closing = s; /* JS's reference, released once it has heard */
    if (post(s->fn, r, napi_tsfn_nonblocking) != napi_ok) {
      free_request(r);
      source_release(s);
    }
  } else {
    source_release(s);
  }
  source_release(s); /* DuckDB's */
}

static void fs_init(duckdb_init_info info) {
  bind_data *b = (bind_data *)fs.init_get_bind_data(info);
  source *s = calloc(1, sizeof *s);
  if (s) s->types = malloc(b->columns * sizeof *s->types);
  if (!s || !s->types) {
    free(s);
    return; /* fs_main reports the missing init data */
  }
  memcpy(s->types, b->types, b->columns * sizeof *s->types);
  s->columns = b->columns;
  s->fn = (function_info *)fs.init_get_extra_info(info);
  s->refs = 2;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->changed, NULL);
  pthread_mutex_lock(&live_lock);
  s->id = next_id++;
  s->next_live = live;
  live = s;
  pthread_mutex_unlock(&live_lock);
  fs.init_set_max_threads(info, 1);
  fs.init_set_init_data(info, s, destroy_source);
  pthread_mutex_lock(&s->lock);
  request_page(s); /* the first page is on its way while DuckDB sets up the rest */
  pthread_mutex_unlock(&s->lock);
}

static int width_of(int type) {
  switch (type) {
    case T_BOOLEAN: case T_TINYINT: case T_UTINYINT: return 1;
    case T_SMALLINT: case T_USMALLINT: return 2;
    case T_INTEGER: case T_UINTEGER: case T_FLOAT: case T_DATE: return 4;
    case T_BIGINT: case T_UBIGINT: case T_DOUBLE: case T_TIMESTAMP: return 8;
    default: return 0;
  }
}

/* Doubles into a column of `type`; 0 when a value is not a whole number in its range (or NaN). */
static int from_doubles(int type, const double *in, const uint8_t *valid, void *out, idx_t n) {
#define CONVERT(ctype, lo, hi)                                                                          \
  for (idx_t k = 0; k < n; k++) {                                                                       \
    if (valid && !valid[k]) continue;                                                                   \
    double v = trunc(in[k]);                                                                            \
    if (!(v >= (lo) && v <= (hi))) return 0;                                                            \
    ((ctype *)out)[k] = (ctype)v;                                                                       \
  }                                                                                                     \
  return 1;
  switch (type) {
    case T_TINYINT: CONVERT(int8_t, -128.0, 127.0)
    case T_SMALLINT: CONVERT(int16_t, -32768.0, 32767.0)
    case T_INTEGER: case T_DATE: CONVERT(int32_t, -2147483648.0, 2147483647.0)
    case T_BIGINT: case T_TIMESTAMP: CONVERT(int64_t, -9223372036854775808.0, 9223372036854774784.0)
    case T_UTINYINT: CONVERT(uint8_t, 0.0, 255.0)
    case T_USMALLINT: CONVERT(uint16_t, 0.0, 65535.0)
    case T_UINTEGER: CONVERT(uint32_t, 0.0, 4294967295.0)
    case T_UBIGINT: CONVERT(uint64_t, 0.0, 18446744073709549568.0)
    case T_FLOAT:
      for (idx_t k = 0; k < n; k++) ((float *)out)[k] = (float)in[k];
      return 1;
    case T_DOUBLE:
      memcpy(out, in, n * sizeof(double));
      return 1;
    default: return 0;
  }
#undef CONVERT
}

/* UTF-16 -> UTF-8 (a lone surrogate becomes U+FFFD, as V8 writes it); returns the bytes written. */
static size_t utf16_to_utf8(const uint16_t *in, size_t n, uint8_t *out) {
  uint8_t *o = out;
  for (size_t k = 0; k < n; k++) {
    uint32_t c = in[k];
    if (c < 0x80) { *o++ = (uint8_t)c; continue; }
    if (c < 0x800) { *o++ = (uint8_t)(0xC0 | c >> 6); *o++ = (uint8_t)(0x80 | (c & 0x3F)); continue; }
    if (c >= 0xD800 && c <= 0xDBFF && k + 1 < n && in[k + 1] >= 0xDC00 && in[k + 1] <= 0xDFFF) {
      c = 0x10000 + ((c - 0xD800) << 10) + (in[++k] - 0xDC00);
      *o++ = (uint8_t)(0xF0 | c >> 18); *o++ = (uint8_t)(0x80 | (c >> 12 & 0x3F));
      *o++ = (uint8_t)(0x80 | (c >> 6 & 0x3F)); *o++ = (uint8_t)(0x80 | (c & 0x3F));
      continue;
    }
    if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;
    *o++ = (uint8_t)(0xE0 | c >> 12); *o++ = (uint8_t)(0x80 | (c >> 6 & 0x3F)); *o++ = (uint8_t)(0x80 | (c & 0x3F));
  }
  return (size_t)(o - out);
}

/* DuckDB thread: rows [p->read, p->read + n) of page p into the output chunk; 0 (error set) on a bad value. */
static int fill_chunk(duckdb_function_info info, source *s, page *p, duckdb_data_chunk output, idx_t n) {
  idx_t from = p->read;
  for (idx_t c = 0; c < s->columns; c++) {
    page_column *col = &p->columns[c];
    int type = s->types[c];
    duckdb_vector vector = fs.data_chunk_get_vector(output, c);
    const uint8_t *valid = col->valid ? col->valid + from : NULL;
    if (valid) {
      uint64_t *validity = NULL;
      for (idx_t k = 0; k < n; k++) {
        if (valid[k]) continue;
        if (!validity) {
          fs.vector_ensure_validity_writable(vector);
          validity = fs.vector_get_validity(vector);
        }
        fs.validity_set_row_invalid(validity, k);
      }
    }
    if (type == T_VARCHAR || type == T_BLOB) {
      size_t at = p->cursors[c];
      for (idx_t k = 0; k < n; k++) {
        int32_t length = col->lengths[from + k];
        if (length < 0) continue;
        if (type == T_BLOB) {
          fs.vector_assign_string_element_len(vector, k, (const char *)col->data + at, (idx_t)length);
        } else {
          if ((size_t)length * 3 > s->utf8_cap) {
            uint8_t *grown = realloc(s->utf8, (size_t)length * 3 + 64);
            if (!grown) {
              fs.function_set_error(info, "out of memory");
              return 0;
            }
            s->utf8 = grown;
            s->utf8_cap = (size_t)length * 3 + 64;
          }
          size_t bytes = utf16_to_utf8((const uint16_t *)col->data + at, (size_t)length, s->utf8);
          fs.vector_assign_string_element_len(vector, k, (const char *)s->utf8, bytes);
        }
        at += (size_t)length;
      }
      p->cursors[c] = at;
      continue;
    }
    int width = width_of(type);
    void *out = fs.vector_get_data(vector);
    if (col->from_double) {
      if (!from_doubles(type, (const double *)col->data + from, valid, out, n)) {
        fs.function_set_error(info, "a value is out of range for its column's type (or not a number)");
        return 0;
      }
    } else {
      memcpy(out, (const uint8_t *)col->data + from * (size_t)width, n * (size_t)width);
    }
  }
  return 1;
}

static void fs_main(duckdb_function_info info, duckdb_data_chunk output) {
  source *s = (source *)fs.function_get_init_data(info);
  if (!s) {
    fs.function_set_error(info, "out of memory starting a function source");
    fs.data_chunk_set_size(output, 0);
    return;
  }
  if (!s->current) {
    pthread_mutex_lock(&s->lock);
    while (!s->head && !s->ended && !s->error) {
      request_page(s);
      if (s->error) break;
      pthread_cond_wait(&s->changed, &s->lock);
    }
    if (s->head) {
      s->current = s->head;
      s->head = s->head->next;
      if (!s->head) s->tail = NULL;
      s->queued--;
    }
    if (!s->current && s->error) {
      pthread_mutex_unlock(&s->lock);
      fs.function_set_error(info, s->error);
      fs.data_chunk_set_size(output, 0);
      return;
    }
    request_page(s); /* keep PAGES_AHEAD pages coming while this one is read */
    pthread_mutex_unlock(&s->lock);
  }
  page *p = s->current;
  if (!p) {
    fs.data_chunk_set_size(output, 0);
    return;
  }
  idx_t n = p->rows - p->read < CHUNK_ROWS ? p->rows - p->read : CHUNK_ROWS;
  if (!fill_chunk(info, s, p, output, n)) {
    fs.data_chunk_set_size(output, 0);
    return;
  }
  p->read += n;
  if (p->read == p->rows) {
    free_page(p, s->columns);
    s->current = NULL;
  }
  fs.data_chunk_set_size(output, n);
}

/* DuckDB drops the table function (its database closes). */
static void destroy_function_info(void *data) {
  function_info *fn = (function_info *)data;
  if (!fn->finalized) napi_release_threadsafe_function(fn->call, napi_tsfn_release);
  fn->call = NULL;
  if (fn->finalized) free(fn); /* else freed when Node finalizes the threadsafe function */
  else fn->finalized = -1;
}

/* Node closes the threadsafe function (released above, or at the environment's teardown). */
static void function_info_finalized(napi_env env, void *data, void *hint) {
  function_info *fn = (function_info *)data;
  (void)env; (void)hint;
  if (fn->finalized == -1) free(fn); /* DuckDB is done with it too */
  else fn->finalized = 1;
}

/*
 * registerFunctionSource(connection, tableName, handler): registers the table function on the
 * connection's database; handler(kind, id) answers its requests (see the top of this file).
 */
napi_value bundlebase_register_function_source(napi_env env, napi_callback_info info, void *connection) {
  size_t argc = 3;
  napi_value argv[3], name;
  char table[256];
  size_t length;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!connection || argc < 3 || napi_get_value_string_utf8(env, argv[1], table, sizeof table, &length) != napi_ok) {
    return throw_error(env, "registerFunctionSource expects a DuckDB connection, a name and a handler");
  }
  function_info *fn = calloc(1, sizeof *fn);
  if (!fn) return throw_error(env, "out of memory");
  CHECK(napi_create_string_utf8(env, "bundlebase.functionSource", NAPI_AUTO_LENGTH, &name));
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, fn, function_info_finalized, NULL, call_js, &fn->call) != napi_ok) {
    free(fn);
    return throw_error(env, "cannot create the function source's callback");
  }
  napi_unref_threadsafe_function(env, fn->call); /* a registered function does not keep the process alive */
  duckdb_table_function tf = fs.create_table_function();
  fs.table_function_set_name(tf, table);
  fs.table_function_set_extra_info(tf, fn, destroy_function_info);
  fs.table_function_set_bind(tf, fs_bind);
  fs.table_function_set_init(tf, fs_init);
  fs.table_function_set_function(tf, fs_main);
  int failed = fs.register_table_function(connection, tf);
  fs.destroy_table_function(&tf);
  if (failed) return throw_error(env, "DuckDB refused to register the function source");
  return NULL;
}

/* Main thread: the source a JS answer is for (with a reference), or NULL when it is closed. */
static source *answered_source(napi_env env, napi_value id_value) {
  int64_t id;
  if (napi_get_value_int64(env, id_value, &id) != napi_ok) return NULL;
  return source_by_id(id);
}

/* Main thread: hands a page to the source, or ends / fails it (page NULL, error maybe). */
static void deliver(source *s, page *p, const char *error, int end) {
  pthread_mutex_lock(&s->lock);
  s->requested = 0;
  if (p) {
    if (s->tail) s->tail->next = p;
    else s->head = p;
    s->tail = p;
    s->queued++;
  }
  if (error && !s->error) s->error = copy_text(error);
  if (end) s->ended = 1;
  pthread_cond_signal(&s->changed);
  pthread_mutex_unlock(&s->lock);
}

/* endSource(id) / failSource(id, message): the function returned null / threw. */
napi_value bundlebase_end_source(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char message[2048] = "";
  size_t length;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  source *s = argc < 1 ? NULL : answered_source(env, argv[0]);
  if (!s) return NULL;
  int failing = argc > 1 && napi_get_value_string_utf8(env, argv[1], message, sizeof message, &length) == napi_ok;
  deliver(s, NULL, failing ? message : NULL, !failing);
  source_release(s);
  return NULL;
}

/* Copies `count` elements of `width` bytes from a typed array (NULL, error thrown, when it is short). */
static void *copy_typed(napi_env env, napi_value array, size_t width, size_t count) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, array, &type, &length, &data, NULL, NULL) != napi_ok) return NULL;
  size_t element = type == napi_float64_array || type == napi_bigint64_array || type == napi_biguint64_array ? 8
                   : type == napi_int32_array || type == napi_uint32_array || type == napi_float32_array ? 4
                   : type == napi_int16_array || type == napi_uint16_array ? 2 : 1;
  if (length * element < count * width) return NULL;
  size_t bytes = count * width;
  void *copy = malloc(bytes > 0 ? bytes : 1);
  if (copy && bytes > 0) memcpy(copy, data, bytes);
  return copy;
}

/*
 * pushPage(id, rows, values[], lengths[], valid[]): one page of source `id`. Per column: values is
 * a Float64Array (numbers, converted to the column's type on DuckDB's thread), a typed array of
 * the column's exact bytes, a string (text: the page's values joined; lengths = UTF-16 units each,
 * -1 NULL) or a Uint8Array of bytes (blobs, cut by lengths); valid is a Uint8Array (1 = valid) or
 * null. A page for a closed source is dropped.
 */
napi_value bundlebase_push_page(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], value;
  uint32_t rows;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5 || napi_get_value_uint32(env, argv[1], &rows) != napi_ok) return throw_error(env, "pushPage expects an id, a row count and three arrays");
  source *s = answered_source(env, argv[0]);
  if (!s) return NULL;
  page *p = calloc(1, sizeof *p);
  const char *failure = NULL;
  if (!p || !(p->columns = calloc(s->columns, sizeof *p->columns)) || !(p->cursors = calloc(s->columns, sizeof *p->cursors))) failure = "out of memory";
  if (p) p->rows = rows;
  for (idx_t c = 0; !failure && c < s->columns; c++) {
    page_column *col = &p->columns[c];
    int type = s->types[c];
    napi_valuetype kind;
    bool typed = false;
    if (napi_get_element(env, argv[2], (uint32_t)c, &value) != napi_ok || napi_typeof(env, value, &kind) != napi_ok) {
      failure = "pushPage: a column is missing";
      break;
    }
    if (type == T_VARCHAR || type == T_BLOB) {
      napi_value lengths;
      if (napi_get_element(env, argv[3], (uint32_t)c, &lengths) != napi_ok || !(col->lengths = copy_typed(env, lengths, 4, rows))) {
        failure = "pushPage: a text column needs an Int32Array of lengths";
        break;
      }
      size_t total = 0;
      for (uint32_t k = 0; k < rows; k++) total += col->lengths[k] > 0 ? (size_t)col->lengths[k] : 0;
      if (type == T_VARCHAR) {
        size_t units;
        if (kind != napi_string || napi_get_value_string_utf16(env, value, NULL, 0, &units) != napi_ok || units != total ||
            !(col->data = malloc((units + 1) * sizeof(uint16_t))) ||
            napi_get_value_string_utf16(env, value, (char16_t *)col->data, units + 1, &units) != napi_ok) {
          failure = "pushPage: a text column's lengths do not add up to its string";
        }
      } else if (!(col->data = copy_typed(env, value, 1, total))) {
        failure = "pushPage: a binary column's lengths do not add up to its bytes";
      }
    } else {
      int width = width_of(type);
      napi_typedarray_type array_type;
      napi_is_typedarray(env, value, &typed);
      if (!width || !typed || napi_get_typedarray_info(env, value, &array_type, NULL, NULL, NULL, NULL) != napi_ok) {
        failure = "pushPage: a column's values are not a typed array";
        break;
      }
      col->from_double = array_type == napi_float64_array && type != T_DOUBLE;
      if (!(col->data = copy_typed(env, value, col->from_double ? 8 : (size_t)width, rows))) failure = "pushPage: a column has too few values";
    }
    napi_value valid;
    napi_valuetype valid_kind;
    if (!failure && napi_get_element(env, argv[4], (uint32_t)c, &valid) == napi_ok && napi_typeof(env, valid, &valid_kind) == napi_ok &&
        valid_kind == napi_object && !(col->valid = copy_typed(env, valid, 1, rows))) {
      failure = "pushPage: a validity array is too short";
    }
  }
  if (failure) {
    free_page(p, s->columns);
    deliver(s, NULL, failure, 0);
  } else {
    deliver(s, p, NULL, 0);
  }
  source_release(s);
  return NULL;
}
