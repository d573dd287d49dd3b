/*
 * The hot loop of building a CSV index (src/indexing/scan.ts) in C: split records (quote-aware),
 * pick one field, canonicalise it and hash it, writing each record's hash, byte offset and length
 * into the typed arrays JS passes. JS keeps reading the file (in large chunks) and calls this once
 * per chunk, so progress, memory and the index file stay where they were; the pure-JS scanner in
 * scan.ts computes the same entries byte for byte (test/indexing-native.test.ts compares them).
 */
#define _GNU_SOURCE /* memmem, strtod_l */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                                     \
  do {                                                                                                  \
    if ((call) != napi_ok) return NULL;                                                                 \
  } while (0)

/* How field values are compared before hashing, as KIND_CODES in scan.ts. */
enum { KIND_INTEGER = 0, KIND_STRING = 1, KIND_FLOAT64 = 2 };

/* The hash of a record whose value the index does not read (UNREAD_HASH in scan.ts): every lookup reads it. */
#define UNREAD_HASH 1

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')

/* FNV-1a, continued from `h` (0x811c9dc5 to start), as hashBytes in scan.ts. */
static uint32_t fnv(uint32_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x01000193u;
  }
  return h;
}

/* Bytes of the whitespace character String.prototype.trim removes that starts at p, or 0. */
static size_t space_at(const uint8_t *p, const uint8_t *end) {
  size_t left = (size_t)(end - p);
  if (left == 0) return 0;
  uint8_t c = p[0];
  if ((c >= 9 && c <= 13) || c == 32) return 1;
  if (left >= 2 && c == 0xC2 && p[1] == 0xA0) return 2; /* U+00A0 */
  if (left < 3) return 0;
  if (c == 0xE1 && p[1] == 0x9A && p[2] == 0x80) return 3; /* U+1680 */
  if (c == 0xE2 && p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF)) return 3;
  if (c == 0xE2 && p[1] == 0x81 && p[2] == 0x9F) return 3; /* U+205F */
  if (c == 0xE3 && p[1] == 0x80 && p[2] == 0x80) return 3; /* U+3000 */
  if (c == 0xEF && p[1] == 0xBB && p[2] == 0xBF) return 3; /* U+FEFF */
  return 0;
}

/* Bytes of such a whitespace character that ends at end (UTF-8 is self-synchronising), or 0. */
static size_t space_before(const uint8_t *start, const uint8_t *end) {
  for (size_t n = 1; n <= 3 && (size_t)(end - start) >= n; n++) {
    if (space_at(end - n, end) == n) return n;
  }
  return 0;
}

/* Trims what String.prototype.trim removes from both ends of [*p, *end). */
static void trim(const uint8_t **p, const uint8_t **end) {
  size_t n;
  while ((n = space_at(*p, *end)) > 0) *p += n;
  while (*end > *p && (n = space_before(*p, *end)) > 0) *end -= n;
}

/*
 * The hash of an integer's canonical text (as canonical in scan.ts: trimmed, an optional sign and
 * digits, no '+' or leading zeros kept, "-0" is "0"); UNREAD_HASH for any other text.
 */
static uint32_t integer_hash(const uint8_t *p, const uint8_t *end) {
  trim(&p, &end);
  int negative = 0;
  if (p < end && (*p == '+' || *p == '-')) negative = *p++ == '-';
  if (p == end) return UNREAD_HASH;
  for (const uint8_t *q = p; q < end; q++) {
    if (!IS_DIGIT(*q)) return UNREAD_HASH;
  }
  while (p < end - 1 && *p == '0') p++;
  uint32_t h = 0x811c9dc5u;
  if (negative && !(end - p == 1 && *p == '0')) h = fnv(h, (const uint8_t *)"-", 1);
  return fnv(h, p, (size_t)(end - p));
}

/* The hash of a DOUBLE value, as floatHash in scan.ts: its 8 little-endian IEEE bytes. */
static uint32_t float_hash(double v) {
  uint64_t bits = 0x7ff8000000000000ull; /* every NaN is one value */
  if (v == v) {
    if (v == 0) v = 0; /* -0 is 0 */
    memcpy(&bits, &v, sizeof bits);
  }
  uint8_t bytes[8];
  for (int i = 0; i < 8; i++) bytes[i] = (uint8_t)(bits >> (8 * i));
  return fnv(0x811c9dc5u, bytes, 8);
}

/* Whether [p, end) spells `word` in any case. */
static int word_is(const uint8_t *p, const uint8_t *end, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(end - p) != n) return 0;
  for (size_t i = 0; i < n; i++) {
    if ((p[i] | 0x20) != word[i]) return 0;
  }
  return 1;
}

/* A decimal as it is read: its first 19 significant digits, the power of ten they are scaled by. */
typedef struct {
  uint64_t mantissa;
  int digits;
  int dropped; /* a nonzero digit past the 19th, or a huge exponent: not exact, strtod reads it */
  long exponent;
} Decimal;

/* Reads the digits at *p into d, a fraction's digits scaling it down; returns how many it read. */
static size_t read_digits(const uint8_t **p, const uint8_t *end, Decimal *d, int fraction) {
  size_t n = 0;
  const uint8_t *q = *p;
  for (; q < end && IS_DIGIT(*q); q++) {
    n++;
    if (d->mantissa == 0 && *q == '0') {
      d->exponent -= fraction;
    } else if (d->digits < 19) {
      d->mantissa = d->mantissa * 10 + (uint64_t)(*q - '0');
      d->digits++;
      d->exponent -= fraction;
    } else {
      d->exponent += !fraction;
      d->dropped |= *q != '0';
    }
  }
  *p = q;
  return n;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* Powers of ten a long double holds exactly (a double up to 1e22). */
static const long double EXACT_POWERS[] = {1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L, 1e11L, 1e12L, 1e13L,
                                           1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};

/*
 * The correctly rounded value of a decimal read exactly (no dropped digits), when one operation
 * gives it: Clinger's fast path (digits within 2^53, an exact power of ten: one correctly rounded
 * double operation); else, with an x87 long double, one operation on 64-bit digits, which is
 * within half a 64-bit unit of the exact value, so rounding it to a double gives the double nearest
 * the exact value unless it lands exactly on a midpoint between two doubles.
 * 0 when neither applies (the caller asks strtod).
 */
static int fast_decimal(const Decimal *d, double *out) {
  if (d->mantissa == 0) {
    *out = 0;
    return 1;
  }
  if (d->mantissa <= (1ull << 53) && d->exponent >= -22 && d->exponent <= 22) {
    double v = (double)d->mantissa, power = (double)EXACT_POWERS[d->exponent < 0 ? -d->exponent : d->exponent];
    *out = d->exponent < 0 ? v / power : v * power;
    return 1;
  }
#if LDBL_MANT_DIG == 64 && defined(__x86_64__)
  if (d->exponent >= -27 && d->exponent <= 27) {
    long double v = (long double)d->mantissa, power = EXACT_POWERS[d->exponent < 0 ? -d->exponent : d->exponent];
    v = d->exponent < 0 ? v / power : v * power;
    /* x87's 64-bit significand comes first; a double keeps its top 53 bits (the value is normal
     * here): the low 11 bits at exactly half are a midpoint, which strtod settles */
    uint64_t significand;
    memcpy(&significand, &v, sizeof significand);
    if ((significand & 0x7ff) == 0x400) return 0;
    *out = (double)v;
    return 1;
  }
#endif
  return 0;
}

/* strtod in the C locale on [p, end); 0 when memory ran out. */
static int strtod_text(const uint8_t *p, const uint8_t *end, double *out) {
  char local[128], *text = local;
  size_t length = (size_t)(end - p);
  if (length + 1 > sizeof local && !(text = malloc(length + 1))) return 0;
  memcpy(text, p, length);
  text[length] = 0;
  pthread_once(&c_locale_once, make_c_locale);
  *out = c_locale ? strtod_l(text, NULL, c_locale) : strtod(text, NULL);
  if (text != local) free(text);
  return 1;
}

/*
 * Reads a DOUBLE from text as parseFloating in scan.ts: trimmed, a plain decimal or inf / infinity
 * / nan in any case. 1 and the value in *out, 0 for other text, -1 when memory ran out.
 */
static int parse_floating(const uint8_t *p, const uint8_t *end, double *out) {
  trim(&p, &end);
  const uint8_t *start = p;
  int negative = p < end && *p == '-';
  if (p < end && (*p == '+' || *p == '-')) p++;
  if (word_is(p, end, "inf") || word_is(p, end, "infinity")) {
    *out = negative ? -HUGE_VAL : HUGE_VAL;
    return 1;
  }
  if (word_is(p, end, "nan")) {
    *out = NAN;
    return 1;
  }
  Decimal d = {0, 0, 0, 0};
  size_t digits = read_digits(&p, end, &d, 0);
  if (p < end && *p == '.') {
    p++;
    digits += read_digits(&p, end, &d, 1);
  }
  if (digits == 0) return 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    int exponent_negative = ++p < end && *p == '-';
    if (p < end && (*p == '+' || *p == '-')) p++;
    long e = 0;
    const uint8_t *first = p;
    for (; p < end && IS_DIGIT(*p); p++) {
      if (e < 100000) e = e * 10 + (*p - '0');
      else d.dropped = 1; /* an exponent this long: strtod reads it */
    }
    if (p == first) return 0;
    d.exponent += exponent_negative ? -e : e;
  }
  if (p != end) return 0;
  double magnitude;
  if (!d.dropped && fast_decimal(&d, &magnitude)) {
    *out = negative ? -magnitude : magnitude;
    return 1;
  }
  return strtod_text(start, end, out) ? 1 : -1;
}

/* The hash of a DOUBLE read from text: UNREAD_HASH for other text, -1 when memory ran out. */
static int64_t floating_hash(const uint8_t *p, const uint8_t *end) {
  double v;
  int parsed = parse_floating(p, end, &v);
  if (parsed < 0) return -1;
  return parsed ? float_hash(v) : UNREAD_HASH;
}

typedef struct {
  int delimiter, quote; /* quote: -1 for none */
  uint32_t column;
  int kind;
  uint8_t *scratch; /* the wanted field with doubled quotes undone */
  size_t scratch_size;
} Layout;

/* Appends [from, to) to the scratch field; 0 when memory ran out. */
static int append(Layout *l, size_t *length, const uint8_t *from, const uint8_t *to) {
  size_t n = (size_t)(to - from);
  if (n == 0) return 1;
  if (*length + n > l->scratch_size) {
    size_t size = l->scratch_size ? l->scratch_size : 256;
    while (size < *length + n) size *= 2;
    uint8_t *grown = realloc(l->scratch, size);
    if (!grown) return 0;
    l->scratch = grown;
    l->scratch_size = size;
  }
  memcpy(l->scratch + *length, from, n);
  *length += n;
  return 1;
}

/*
 * The hash of the wanted field of record [start, end), as csvField + fieldHash in scan.ts: 0 for
 * a missing or empty field, UNREAD_HASH for text the index does not read as a value of the
 * column's kind. Returns -1 when memory ran out.
 */
static int64_t record_hash(Layout *l, const uint8_t *bytes, size_t start, size_t end) {
  const int delimiter = l->delimiter;
  uint32_t field = 0;
  size_t i = start;
  while (i <= end) {
    size_t next, length = 0;
    const uint8_t *value = NULL;
    int wanted = field == l->column;
    if (i < end && bytes[i] == l->quote) {
      size_t j = i + 1, from = j;
      for (;;) {
        if (j >= end) {
          if (wanted && !append(l, &length, bytes + from, bytes + end)) return -1;
          next = end;
          break;
        }
        if (bytes[j] == l->quote) {
          if (j + 1 < end && bytes[j + 1] == l->quote) {
            if (wanted && !append(l, &length, bytes + from, bytes + j + 1)) return -1;
            j += 2;
            from = j;
            continue;
          }
          if (wanted && !append(l, &length, bytes + from, bytes + j)) return -1;
          next = j + 1;
          break;
        }
        j++;
      }
      value = l->scratch;
      size_t closed = next;
      while (next < end && bytes[next] != delimiter) next++;
      /* characters after the closing quote: DuckDB reads such a field its own way */
      if (wanted && next > closed) return UNREAD_HASH;
    } else {
      const uint8_t *found = memchr(bytes + i, delimiter, end - i);
      next = found ? (size_t)(found - bytes) : end;
      value = bytes + i;
      length = next - i;
      /* a quote after other characters (` "sp"`): DuckDB reads such a field its own way */
      if (wanted && l->quote >= 0 && memchr(value, l->quote, length)) return UNREAD_HASH;
    }
    if (wanted) {
      if (length == 0) return 0;
      if (l->kind == KIND_STRING) return fnv(0x811c9dc5u, value, length);
      if (l->kind == KIND_INTEGER) return integer_hash(value, value + length);
      return floating_hash(value, value + length);
    }
    field++;
    i = next + 1;
  }
  return 0;
}

static int64_t json_hash(const uint8_t *line, const uint8_t *end, const uint8_t *needle, size_t needle_length, int kind);

/*
 * Records hashed by one thread: entries [from, to) of the chunk's arrays, by the CSV layout or the
 * JSON key. A JSON line it cannot read alone gets hash 0 and its entry in `deferred` (for JS).
 */
typedef struct {
  Layout layout;                  /* CSV; layout.kind is the kind for both */
  const uint8_t *needle;          /* JSON: the key's JSON spelling; NULL for CSV */
  size_t needle_length;
  const uint8_t *bytes;
  double file_offset;
  const double *offsets;
  const uint32_t *lengths;
  uint32_t *hashes;
  uint32_t from, to;
  uint32_t *deferred;
  size_t deferred_count;
  int failed; /* memory ran out */
} HashJob;

static void *hash_records(void *arg) {
  HashJob *job = arg;
  for (uint32_t k = job->from; k < job->to && !job->failed; k++) {
    const uint8_t *record = job->bytes + (size_t)(job->offsets[k] - job->file_offset);
    int64_t hash = job->needle ? json_hash(record, record + job->lengths[k], job->needle, job->needle_length, job->layout.kind)
                               : record_hash(&job->layout, record, 0, job->lengths[k]);
    if (hash < 0 && job->needle) {
      job->deferred[job->deferred_count++] = k;
      hash = 0;
    }
    if (hash < 0) job->failed = 1;
    else job->hashes[k] = (uint32_t)hash;
  }
  free(job->layout.scratch);
  return NULL;
}

/* Records in a chunk past which a second thread hashes half of them (a thread costs ~50 µs). */
#define PARALLEL_RECORDS 4096

/*
 * Hashes the chunk's records [from, to) that the split found, as `job` says: the split must run
 * in order (CSV quotes carry from one record to the next), the hashing need not, so a second
 * thread takes the second half of a large chunk (a plain scan by DuckDB uses two threads too).
 * Returns 0 when memory ran out; the deferred entries end up first in `job->deferred`, counted.
 */
static int hash_all(HashJob *job, uint32_t from, uint32_t to) {
  HashJob halves[2];
  uint32_t middle = to - from >= PARALLEL_RECORDS ? from + (to - from) / 2 : to;
  for (int j = 0; j < 2; j++) {
    halves[j] = *job;
    halves[j].layout.scratch = NULL;
    halves[j].layout.scratch_size = 0;
    halves[j].from = j ? middle : from;
    halves[j].to = j ? to : middle;
    /* each half has room for its own deferred entries: as many as its records */
    halves[j].deferred = job->deferred ? job->deferred + (j ? middle - from : 0) : NULL;
    halves[j].deferred_count = 0;
  }
  pthread_t helper;
  int helped = middle < to && pthread_create(&helper, NULL, hash_records, &halves[1]) == 0;
  hash_records(&halves[0]);
  if (helped) pthread_join(helper, NULL);
  else hash_records(&halves[1]);
  if (job->deferred) {
    memmove(job->deferred + halves[0].deferred_count, halves[1].deferred, halves[1].deferred_count * sizeof *job->deferred);
    job->deferred_count = halves[0].deferred_count + halves[1].deferred_count;
  }
  return !halves[0].failed && !halves[1].failed;
}

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, "BUNDLEBASE_NATIVE", message);
  return NULL;
}

static int typed_array(napi_env env, napi_value value, napi_typedarray_type expected, void **data, size_t *length) {
  bool is;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, value, &type, length, data, &buffer, &offset) != napi_ok) return 0;
  return type == expected;
}

/* [consumed, count, third] as a chunk scanner returns it to JS. */
static napi_value chunk_result(napi_env env, size_t consumed, uint32_t count, uint32_t third) {
  napi_value result, value;
  CHECK(napi_create_array_with_length(env, 3, &result));
  CHECK(napi_create_double(env, (double)consumed, &value));
  CHECK(napi_set_element(env, result, 0, value));
  CHECK(napi_create_uint32(env, count, &value));
  CHECK(napi_set_element(env, result, 1, value));
  CHECK(napi_create_uint32(env, third, &value));
  CHECK(napi_set_element(env, result, 2, value));
  return result;
}

/*
 * scanCsvChunk(bytes, fileOffset, delimiter, quote, column, kind, skip, final, hashes, offsets,
 * lengths, count) -> [consumed, count, skip]
 * Records start at bytes[0] (outside quotes). Each complete record (up to an unquoted '\n'; a '\r'
 * before it is left out) not skipped (the header) and not blank gets an entry at `count`; with
 * `final` the bytes after the last '\n' are a record too. `consumed` is where the first record not
 * read starts (JS carries those bytes into the next chunk).
 */
napi_value bundlebase_scan_csv_chunk(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *bytes;
  uint32_t *hashes, *lengths;
  double *offsets, file_offset;
  size_t size, capacity, capacity_offsets, capacity_lengths;
  int32_t delimiter, quote, kind;
  uint32_t column, skip, count;
  bool final;
  if (argc < 12 || !typed_array(env, argv[0], napi_uint8_array, (void **)&bytes, &size) ||
      napi_get_value_double(env, argv[1], &file_offset) != napi_ok ||
      napi_get_value_int32(env, argv[2], &delimiter) != napi_ok || napi_get_value_int32(env, argv[3], &quote) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &column) != napi_ok || napi_get_value_int32(env, argv[5], &kind) != napi_ok ||
      napi_get_value_uint32(env, argv[6], &skip) != napi_ok || napi_get_value_bool(env, argv[7], &final) != napi_ok ||
      !typed_array(env, argv[8], napi_uint32_array, (void **)&hashes, &capacity) ||
      !typed_array(env, argv[9], napi_float64_array, (void **)&offsets, &capacity_offsets) ||
      !typed_array(env, argv[10], napi_uint32_array, (void **)&lengths, &capacity_lengths) ||
      napi_get_value_uint32(env, argv[11], &count) != napi_ok || kind < KIND_INTEGER || kind > KIND_FLOAT64) {
    return throw_error(env, "scanCsvChunk expects bytes, an offset, a CSV layout, a kind, skip, final and three entry arrays");
  }
  if (capacity_offsets < capacity) capacity = capacity_offsets;
  if (capacity_lengths < capacity) capacity = capacity_lengths;
  Layout layout = {delimiter, quote, column, kind, NULL, 0};
  const uint32_t first = count;
  const char *failure = NULL;
  size_t start = 0, i = 0;
  int in_quotes = 0;
  for (;;) {
    size_t end;
    /* the next '\n' outside quotes: memchr to each newline, then the quotes before it flip the state */
    const uint8_t *newline = i < size ? memchr(bytes + i, '\n', size - i) : NULL;
    if (newline) {
      if (quote >= 0) {
        for (const uint8_t *q = bytes + i; (q = memchr(q, quote, (size_t)(newline - q))) != NULL; q++) in_quotes = !in_quotes;
      }
      i = (size_t)(newline - bytes);
      if (in_quotes) {
        i++;
        continue;
      }
      end = i > start && bytes[i - 1] == '\r' ? i - 1 : i;
    } else if (final && start < size) {
      /* the file's last record when it does not end with '\n' */
      i = size;
      end = bytes[size - 1] == '\r' ? size - 1 : size;
    } else {
      break;
    }
    if (skip > 0) {
      skip--;
    } else if (end > start) {
      if (count >= capacity) {
        failure = "scanCsvChunk: the entry arrays are full";
        break;
      }
      offsets[count] = file_offset + (double)start;
      lengths[count] = (uint32_t)(end - start);
      count++;
    }
    start = ++i;
  }
  HashJob job = {.layout = layout, .bytes = bytes, .file_offset = file_offset, .offsets = offsets, .lengths = lengths, .hashes = hashes};
  if (!failure && !hash_all(&job, first, count)) failure = "out of memory";
  if (failure) return throw_error(env, failure);
  return chunk_result(env, start > size ? size : start, count, skip);
}

/*
 * sortEntries(hashes, offsets, lengths, count): sorts the first `count` entries by hash in place,
 * equal hashes in their order (sortByHash in src/indexing/file.ts, the same LSD radix: 4 passes of
 * 8 bits moving the three arrays together, so both give the same file).
 */
napi_value bundlebase_sort_entries(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t *hashes, *lengths, count;
  double *offsets;
  size_t n_hashes, n_offsets, n_lengths;
  if (argc < 4 || !typed_array(env, argv[0], napi_uint32_array, (void **)&hashes, &n_hashes) ||
      !typed_array(env, argv[1], napi_float64_array, (void **)&offsets, &n_offsets) ||
      !typed_array(env, argv[2], napi_uint32_array, (void **)&lengths, &n_lengths) ||
      napi_get_value_uint32(env, argv[3], &count) != napi_ok || count > n_hashes || count > n_offsets || count > n_lengths) {
    return throw_error(env, "sortEntries expects hashes, offsets, lengths and a count within them");
  }
  uint32_t *to_hashes = malloc((size_t)count * sizeof *to_hashes + 1);
  double *to_offsets = malloc((size_t)count * sizeof *to_offsets + 1);
  uint32_t *to_lengths = malloc((size_t)count * sizeof *to_lengths + 1);
  size_t *counts = calloc(4 * 256, sizeof *counts);
  if (!to_hashes || !to_offsets || !to_lengths || !counts) {
    free(to_hashes);
    free(to_offsets);
    free(to_lengths);
    free(counts);
    return throw_error(env, "out of memory");
  }
  for (uint32_t i = 0; i < count; i++) {
    uint32_t h = hashes[i];
    counts[h & 0xff]++;
    counts[256 + ((h >> 8) & 0xff)]++;
    counts[512 + ((h >> 16) & 0xff)]++;
    counts[768 + (h >> 24)]++;
  }
  uint32_t *from_h = hashes, *from_l = lengths, *into_h = to_hashes, *into_l = to_lengths;
  double *from_o = offsets, *into_o = to_offsets;
  for (int pass = 0; pass < 4; pass++) {
    size_t *at = counts + pass * 256, sum = 0;
    for (int b = 0; b < 256; b++) {
      size_t c = at[b];
      at[b] = sum;
      sum += c;
    }
    int shift = pass * 8;
    for (uint32_t i = 0; i < count; i++) {
      uint32_t h = from_h[i];
      size_t to = at[(h >> shift) & 0xff]++;
      into_h[to] = h;
      into_o[to] = from_o[i];
      into_l[to] = from_l[i];
    }
    uint32_t *swap = from_h;
    from_h = into_h;
    into_h = swap;
    swap = from_l;
    from_l = into_l;
    into_l = swap;
    double *swap_o = from_o;
    from_o = into_o;
    into_o = swap_o;
  }
  /* four passes: the sorted entries are back in the caller's arrays */
  free(to_hashes);
  free(to_offsets);
  free(to_lengths);
  free(counts);
  return NULL;
}

static int json_space(const uint8_t *p, const uint8_t *end) {
  return p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r');
}

/* Whether the token ending at p is followed by the end of the line, ',', '}' or a JSON space. */
static int json_ended(const uint8_t *p, const uint8_t *end) {
  return p == end || *p == ',' || *p == '}' || json_space(p, end);
}

/* The end of the JSON number at p (-?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?), or NULL when none is there. */
static const uint8_t *json_number_end(const uint8_t *p, const uint8_t *end) {
  if (p < end && *p == '-') p++;
  if (p == end || !IS_DIGIT(*p)) return NULL;
  if (*p == '0') {
    p++;
  } else {
    while (p < end && IS_DIGIT(*p)) p++;
  }
  if (p < end && *p == '.') {
    if (++p == end || !IS_DIGIT(*p)) return NULL;
    while (p < end && IS_DIGIT(*p)) p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    if (++p < end && (*p == '+' || *p == '-')) p++;
    if (p == end || !IS_DIGIT(*p)) return NULL;
    while (p < end && IS_DIGIT(*p)) p++;
  }
  return p;
}

/*
 * The hash of `key`'s value in one JSON line, as parsedHash in src/indexing/scan.ts gives it, for
 * the shapes read here (plain strings, short integers, numbers for a DOUBLE column, null, a missing
 * key); -1 when JS must parse the line.
 */
static int64_t json_hash(const uint8_t *line, const uint8_t *end, const uint8_t *needle, size_t needle_length, int kind) {
  const uint8_t *at = memmem(line, (size_t)(end - line), needle, needle_length);
  /* the key may be there written with escapes ("\u0069d"): JS parses the line then */
  if (!at) return memchr(line, '\\', (size_t)(end - line)) ? -1 : 0;
  const uint8_t *p = at + needle_length;
  if (memmem(p, (size_t)(end - p), needle, needle_length)) return -1;
  while (json_space(p, end)) p++;
  if (p == end || *p != ':') return -1;
  p++;
  while (json_space(p, end)) p++;
  if (p < end && *p == '"') {
    const uint8_t *from = ++p;
    while (p < end && *p != '"') {
      if (*p == '\\' || *p < 0x20) return -1;
      p++;
    }
    if (p == end) return -1;
    /* an empty string is a value in JSON (the hash of ""), unlike an empty CSV field */
    if (kind == KIND_STRING) return fnv(0x811c9dc5u, from, (size_t)(p - from));
    return kind == KIND_INTEGER ? integer_hash(from, p) : floating_hash(from, p);
  }
  if (end - p >= 4 && memcmp(p, "null", 4) == 0 && json_ended(p + 4, end)) return 0;
  if (kind == KIND_FLOAT64) {
    const uint8_t *number_end = json_number_end(p, end);
    if (number_end && json_ended(number_end, end)) return floating_hash(p, number_end);
  } else if (kind == KIND_INTEGER) {
    /* an integer exact in a double: its digits are the canonical text ("-0" is "0") */
    const uint8_t *digits = p < end && *p == '-' ? p + 1 : p, *q = digits;
    while (q < end && *q >= '0' && *q <= '9') q++;
    size_t n = (size_t)(q - digits);
    if (n > 0 && n <= 15 && json_ended(q, end) && (*digits != '0' || n == 1)) return integer_hash(p, q);
  }
  return -1;
}

/*
 * scanJsonChunk(bytes, fileOffset, needle, kind, final, hashes, offsets, lengths, count, deferred)
 * -> [consumed, count, deferredCount]
 * One entry per non-empty line (the '\r' before '\n' left out) with the hash of the value of the
 * key whose JSON spelling is `needle`; the entries it cannot hash get 0 and their index in
 * `deferred`, for JS to parse. `consumed` as for scanCsvChunk.
 */
napi_value bundlebase_scan_json_chunk(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *bytes, *needle;
  uint32_t *hashes, *lengths, *deferred, count;
  double *offsets, file_offset;
  size_t size, needle_length, capacity, capacity_offsets, capacity_lengths, capacity_deferred;
  int32_t kind;
  bool final;
  if (argc < 10 || !typed_array(env, argv[0], napi_uint8_array, (void **)&bytes, &size) ||
      napi_get_value_double(env, argv[1], &file_offset) != napi_ok ||
      !typed_array(env, argv[2], napi_uint8_array, (void **)&needle, &needle_length) || needle_length == 0 ||
      napi_get_value_int32(env, argv[3], &kind) != napi_ok || napi_get_value_bool(env, argv[4], &final) != napi_ok ||
      !typed_array(env, argv[5], napi_uint32_array, (void **)&hashes, &capacity) ||
      !typed_array(env, argv[6], napi_float64_array, (void **)&offsets, &capacity_offsets) ||
      !typed_array(env, argv[7], napi_uint32_array, (void **)&lengths, &capacity_lengths) ||
      napi_get_value_uint32(env, argv[8], &count) != napi_ok ||
      !typed_array(env, argv[9], napi_uint32_array, (void **)&deferred, &capacity_deferred) ||
      kind < KIND_INTEGER || kind > KIND_FLOAT64) {
    return throw_error(env, "scanJsonChunk expects bytes, an offset, a key, a kind, final, three entry arrays, a count and a deferred array");
  }
  if (capacity_offsets < capacity) capacity = capacity_offsets;
  if (capacity_lengths < capacity) capacity = capacity_lengths;
  const uint32_t first = count;
  size_t start = 0;
  for (;;) {
    const uint8_t *newline = start < size ? memchr(bytes + start, '\n', size - start) : NULL;
    size_t stop, end;
    if (newline) {
      stop = (size_t)(newline - bytes);
      end = stop > start && bytes[stop - 1] == '\r' ? stop - 1 : stop;
    } else if (final && start < size) {
      stop = size;
      end = bytes[size - 1] == '\r' ? size - 1 : size;
    } else {
      break;
    }
    if (end > start) {
      if (count >= capacity || count - first >= capacity_deferred) return throw_error(env, "scanJsonChunk: the entry arrays are full");
      offsets[count] = file_offset + (double)start;
      lengths[count] = (uint32_t)(end - start);
      count++;
    }
    start = stop + 1;
  }
  HashJob job = {.layout = {.kind = kind}, .needle = needle, .needle_length = needle_length, .bytes = bytes, .file_offset = file_offset,
                 .offsets = offsets, .lengths = lengths, .hashes = hashes, .deferred = deferred};
  hash_all(&job, first, count); /* JSON hashing allocates nothing: it cannot fail */
  return chunk_result(env, start > size ? size : start, count, (uint32_t)job.deferred_count);
}
