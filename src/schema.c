/*
 * schema.c: JSON Schema (draft-07 and 2020-12) compiled to a tree of C
 * structs and validated over json-c instances.
 *
 * Compilation runs in two phases over the borrowed document. The scan walks
 * every schema position, records the base URI in effect there and registers
 * every $id and $anchor, so that a $ref can point anywhere in the document.
 * The build then fills one struct snode per schema reachable from the root
 * (a worklist, no recursion), resolving each $ref to a node pointer; a schema
 * that refers to itself simply points at itself. Nothing of json-c survives
 * the compile: enum and const values are deep-copied into struct
 * schema_value, numbers into struct snum, and messages that quote the schema
 * ("must be one of [...]") are formatted once.
 *
 * Patterns are compiled once, with PCRE2's JIT when it has one.
 *
 * Validation only reads the compiled tree and the instance; it allocates
 * nothing unless an error is reported (or propertyNames or uniqueItems
 * over more than a few items is used). PCRE2 match data, a match context
 * and a JIT stack come from a per-thread cache. Subschema evaluations that
 * only need a yes/no (anyOf, oneOf, not, if, contains) run "quiet": res is
 * NULL and the evaluation stops at the first failure.
 *
 * Every piece of work is charged to the budget of the validation (see
 * schema.h) through v_charge(), whose slow path v_check() also looks at the
 * clock; a budget that runs out aborts the validation like the structural
 * limits do, and marks it too costly.
 */
#include "config.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>		/* isfinite, isnan only: no -lm needed */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <json-c/json.h>

#include "schema.h"

#define SCHEMA_SCAN_MAX_DEPTH	128	/* schema document nesting */
#define SCHEMA_EQ_MAX_DEPTH	128	/* json equality recursion */
#define SCHEMA_PREVIEW_MAX	40	/* instance previews in messages */
#define SCHEMA_QUOTE_MAX	200	/* schema values quoted in messages */
#define SCHEMA_DETAIL_BUDGET	16	/* anyOf/oneOf branch diagnoses */
#define SCHEMA_CLOCK_PREFIX_NS	50000	/* CPU not counted, at most */
#define SCHEMA_UNIQUE_PAIRS	16	/* uniqueItems: every pair up to this */
#define SCHEMA_MATCH_STEPS	4	/* a match, and a step per 16 bytes */
#define SCHEMA_ERROR_STEPS	32	/* an error message formatted */
#define SCHEMA_REGEX_MAX_PATTERN 65536	/* bytes, after the ECMA translation */
#define SCHEMA_REGEX_JIT_MAX	512	/* bytes of code: larger, interpreted */

/* Type bits, for "type" and for what an instance is. */
enum {
	T_NULL = 1 << 0,
	T_BOOLEAN = 1 << 1,
	T_OBJECT = 1 << 2,
	T_ARRAY = 1 << 3,
	T_NUMBER = 1 << 4,
	T_STRING = 1 << 5,
	T_INTEGER = 1 << 6
};

/* Keywords present in a node (those without a pointer or count of their own). */
enum {
	HAS_MINIMUM = 1 << 0,
	HAS_MAXIMUM = 1 << 1,
	HAS_EXMIN = 1 << 2,
	HAS_EXMAX = 1 << 3,
	HAS_MULTIPLE = 1 << 4,
	HAS_MINLEN = 1 << 5,
	HAS_MAXLEN = 1 << 6,
	HAS_MINITEMS = 1 << 7,
	HAS_MAXITEMS = 1 << 8,
	HAS_UNIQUE = 1 << 9,
	HAS_MINCONTAINS = 1 << 10,
	HAS_MAXCONTAINS = 1 << 11,
	HAS_MINPROPS = 1 << 12,
	HAS_MAXPROPS = 1 << 13,
	HAS_ENUM = 1 << 14,
	HAS_CONST = 1 << 15,
	HAS_OBJECT_KW = 1 << 16,	/* any keyword about objects */
	HAS_ARRAY_KW = 1 << 17,		/* any keyword about arrays */
	HAS_STRING_KW = 1 << 18,	/* any keyword about strings */
	HAS_NUMBER_KW = 1 << 19,	/* any keyword about numbers */
	HAS_APPLICATOR = 1 << 20	/* allOf anyOf oneOf not if */
};

enum {
	SN_SCHEMA,
	SN_TRUE,
	SN_FALSE
};

enum {
	SV_NULL,
	SV_BOOL,
	SV_NUMBER,
	SV_STRING,
	SV_ARRAY,
	SV_OBJECT
};

struct snum {
	int	 is_int;
	int64_t	 i;
	double	 d;
};

/* A JSON value copied out of json-c, immutable once built. */
struct schema_value {
	int	 kind;
	union {
		int		 b;
		struct snum	 n;
		struct {
			char	*s;
			size_t	 len;
		} str;
		struct {
			struct schema_value	*v;
			size_t			 n;
		} arr;
		struct {
			struct schema_member	*m;
			size_t			 n;
		} obj;
	} u;
};

struct schema_member {
	char			*key;
	struct schema_value	 v;
};

struct spattern {
	pcre2_code	*code;
	char		*src;
};

struct sprop {
	char		*name;
	struct snode	*node;
};

struct spatprop {
	struct spattern	 pat;
	struct snode	*node;
};

/* dependentRequired, dependentSchemas and both forms of dependencies */
struct sdep {
	char		 *name;
	char		**req;
	size_t		  nreq;
	struct snode	 *node;
};

struct snode {
	int		 kind;		/* SN_* */
	uint32_t	 has;		/* HAS_* */
	unsigned	 types;		/* T_*; 0: no "type" */
	struct snode	*ref;

	struct snum	 minimum, maximum, exmin, exmax, multiple;
	char		*minimum_txt, *maximum_txt, *exmin_txt, *exmax_txt;
	char		*multiple_txt;

	size_t		 min_len, max_len;
	struct spattern	 pattern;

	struct snode	**prefix;	/* items by position */
	size_t		  nprefix;
	struct snode	 *items;	/* items after the prefix */
	struct snode	 *contains;
	size_t		  min_contains, max_contains;
	size_t		  min_items, max_items;

	struct sprop	 *props;	/* sorted by name */
	size_t		  nprops;
	struct spatprop	 *patprops;
	size_t		  npatprops;
	struct snode	 *additional;
	struct snode	 *property_names;
	char		**required;
	size_t		  nrequired;
	size_t		  min_props, max_props;
	struct sdep	 *deps;
	size_t		  ndeps;

	struct schema_value *enums;
	size_t		  nenums;
	char		 *enum_msg;
	struct schema_value const_val;
	char		 *const_msg;

	struct snode	**all_of, **any_of, **one_of;
	size_t		  nall_of, nany_of, none_of;
	struct snode	 *not_;
	struct snode	 *if_, *then_, *else_;
};

struct schema {
	struct snode	 *root;
	struct snode	**nodes;	/* every node, for schema_free() */
	size_t		  nnodes;
	char		**required;	/* NULL terminated */
	char		**optional;	/* NULL terminated */
};

/* A growable string; oom is set instead of failing each call. */
struct sbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 oom;
};

/* Compile-time bookkeeping; none of it survives schema_compile(). */
struct centry {
	json_object	*j;
	struct snode	*node;		/* NULL until reached by the build */
	char		*base;		/* base URI for this schema's keywords */
	char		*loc;		/* JSON Pointer in the schema document */
	int		 draft7;
};

struct cresource {
	char		*uri;
	json_object	*j;
	char		*base;
	int		 draft7;
};

struct canchor {
	char		*uri;		/* resource it belongs to */
	char		*name;
	json_object	*j;
};

struct cctx {
	struct schema	 *s;
	char		 *err;
	size_t		  errlen;
	int		  failed;
	pcre2_compile_context *ccx;	/* the pattern length limit */
	int		  jit;		/* JIT-compile patterns */
	unsigned long	 *budget;	/* work units left */
	struct centry	 *entries;
	size_t		  nentries, centries;
	size_t		 *map;		/* open addressing: entry index + 1 */
	size_t		  mapcap;
	struct cresource *res;
	size_t		  nres, cres;
	struct canchor	 *anchors;
	size_t		  nanchors, canchors;
	size_t		 *work;		/* entries to build */
	size_t		  nwork, cwork;
};

/* uniqueItems: an item's index + 1 (0: empty) and 32 more bits of its hash. */
struct uslot {
	uint32_t	 tag;
	uint32_t	 idx1;
};

struct utable {
	struct uslot	*slots;
	size_t		 mask;		/* slots - 1, a power of two */
	size_t		*wild;		/* items holding a NaN */
	size_t		 nwild;
};

/* A thread's PCRE2 state, kept from one match to the next. */
struct vthread {
	pcre2_match_data	*md;
	pcre2_match_context	*mc;
	pcre2_jit_stack		*js;
};

struct vseg {
	const char	*key;		/* NULL: array index */
	size_t		 idx;
};

struct vref {
	const struct snode	*node;
	json_object		*j;
};

enum {
	VCLOCK_IDLE,		/* no check yet */
	VCLOCK_WALL,		/* wall_ref: the first check or match */
	VCLOCK_CPU,		/* cpu0 read; cpu_ref read at wall_ref */
	VCLOCK_OFF		/* no thread CPU clock: steps only */
};

/* The CPU budget of one validation; see v_clock_ok(). */
struct vclock {
	int		 state;		/* VCLOCK_* */
	uint64_t	 budget_ns;
	uint64_t	 prefix_ns;	/* wall time before the CPU clock */
	uint64_t	 cpu0;
	uint64_t	 cpu_ref;
	uint64_t	 wall_ref;
};

struct vctx {
	struct schema_result	*res;	/* NULL: quiet, stop at first error */
	int			 depth;
	int			 detail_budget;
	unsigned long		 steps;	/* work units charged */
	unsigned long		 max_steps;
	unsigned long		 next_check; /* steps when v_check() runs */
	unsigned long		 match_limit;
	unsigned long		 cpu_us;
	struct vclock		 clock;
	int			 costly; /* SCHEMA_COSTLY_*: a budget ran out */
	const char		*name;	/* validating this property name */
	int			 aborted; /* a limit was hit: invalid, stop */
	char			*abort_path;
	char			 abort_msg[160];
	size_t			 npath;
	struct vseg		 path[SCHEMA_MAX_INSTANCE_DEPTH];
	size_t			 nrefs;	/* $ref targets being evaluated */
	struct vref		 refs[SCHEMA_MAX_DEPTH];
};

/* strings and values */
static void	 sbuf_add(struct sbuf *, const char *, size_t);
static void	 sbuf_addc(struct sbuf *, char);
static void	 sbuf_adds(struct sbuf *, const char *);
static void	 sbuf_vprintf(struct sbuf *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
static char	*sbuf_take(struct sbuf *);
static void	 sbuf_json_string(struct sbuf *, const char *, size_t);
static void	 sbuf_pointer_token(struct sbuf *, const char *);
static void	 snum_format(const struct snum *, char *, size_t);
static int	 snum_cmp(const struct snum *, const struct snum *);
static void	 json_num(json_object *, struct snum *);
static double	 dbl_abs(double);
static double	 dbl_round(double);
static int	 dbl_is_integral(double);
static int	 json_is_integer(json_object *);
static int	 json_is_number(json_object *);
static unsigned	 json_type_bits(json_object *);
static int	 json_eq(json_object *, json_object *, int, unsigned long *);
static uint64_t	 hash_mix(uint64_t);
static uint64_t	 hash_bytes(const char *, size_t);
static int	 json_hash(json_object *, int, uint64_t *, unsigned long *);
static void	 json_preview(struct sbuf *, json_object *, size_t, int);
static int	 sv_from_json(struct schema_value *, json_object *, int,
		    struct cctx *);
static void	 sv_free(struct schema_value *);
static int	 sv_eq(const struct schema_value *, json_object *, int,
		    unsigned long *);
static void	 sv_write(struct sbuf *, const struct schema_value *, size_t);
static size_t	 utf8_length(const char *, size_t);
static void	 preview_cut(struct sbuf *, size_t);

/* URIs */
struct uri;
static void	 uri_parse(const char *, struct uri *);
static void	 uri_remove_dots(struct sbuf *, const char *, size_t);
static int	 hexval(char);
static void	 percent_decode(char *);
static char	*uri_resolve(const char *, const char *);
static char	*uri_strip_fragment(const char *);
static int	 pointer_walk(json_object *, const char *, json_object **);

/* compile */
static void	 c_err(struct cctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	*c_calloc(struct cctx *, size_t, size_t);
static char	*c_strdup(struct cctx *, const char *);
static char	*c_loc(struct cctx *, const char *, const char *);
static size_t	 ptr_hash(const void *);
static int	 c_grow(struct cctx *, void *, size_t, size_t *, size_t);
static size_t	 c_lookup(struct cctx *, json_object *);
static int	 c_map_insert(struct cctx *, json_object *, size_t);
static int	 c_add_entry(struct cctx *, json_object *, const char *, int,
		    const char *);
static int	 c_add_resource(struct cctx *, const char *, json_object *,
		    const char *, int);
static int	 c_add_anchor(struct cctx *, const char *, const char *,
		    json_object *);
static int	 c_charge(struct cctx *, unsigned long);
static int	 c_scan(struct cctx *, json_object *, const char *, int,
		    const char *, int);
static int	 c_scan_id(struct cctx *, json_object *, const char *, int,
		    json_object *, char **);
static int	 c_scan_children(struct cctx *, json_object *, const char *,
		    int, const char *, int);
static int	 c_scan_child(struct cctx *, json_object *, const char *, int,
		    const char *, const char *, int);
static struct snode *c_node(struct cctx *, size_t);
static struct snode *c_child(struct cctx *, size_t, json_object *,
		    const char *, const char *);
static struct snode **c_child_array(struct cctx *, size_t, json_object *,
		    const char *, size_t *);
static struct snode *c_resolve_ref(struct cctx *, size_t, const char *);
static int	 c_build(struct cctx *, size_t);
static int	 c_unsupported(struct cctx *, size_t, json_object *);
static int	 c_build_types(struct cctx *, size_t, struct snode *,
		    json_object *);
static int	 c_build_deps(struct cctx *, size_t, struct snode *,
		    json_object *, const char *, int, int);
static int	 c_build_number(struct cctx *, size_t, json_object *,
		    const char *, struct snum *, char **);
static int	 c_build_exclusive(struct cctx *, size_t, struct snode *,
		    json_object *, int);
static int	 c_build_numbers(struct cctx *, size_t, struct snode *,
		    json_object *);
static int	 c_build_strings(struct cctx *, size_t, struct snode *,
		    json_object *);
static int	 c_build_items(struct cctx *, size_t, struct snode *,
		    json_object *);
static int	 c_build_arrays(struct cctx *, size_t, struct snode *,
		    json_object *);
static int	 c_build_props(struct cctx *, size_t, struct snode *,
		    json_object *);
static int	 c_build_patprops(struct cctx *, size_t, struct snode *,
		    json_object *);
static int	 c_build_object_counts(struct cctx *, size_t, struct snode *,
		    json_object *);
static int	 c_build_objects(struct cctx *, size_t, struct snode *,
		    json_object *);
static int	 c_build_values(struct cctx *, size_t, struct snode *,
		    json_object *);
static int	 c_build_applicators(struct cctx *, size_t, struct snode *,
		    json_object *);
static int	 c_count(struct cctx *, size_t, json_object *, const char *,
		    size_t *);
static int	 c_regex(struct cctx *, const char *, size_t, const char *,
		    struct spattern *);
static void	 c_regex_ecma(struct sbuf *, const char *, size_t);
static int	 c_jit(struct cctx *, pcre2_code *);
static int	 c_string_array(struct cctx *, size_t, json_object *,
		    const char *, char ***, size_t *);
static char	*c_quote_values(const struct schema_value *, size_t, int);
static int	 c_root_lists(struct cctx *);
static struct schema *c_compile(json_object *, enum schema_draft,
		    unsigned long *, char *, size_t);
static void	 c_free(struct cctx *);
static void	 node_free(struct snode *);
static int	 prop_cmp(const void *, const void *);
static int	 draft_of(const char *, int);

/* validate */
static void	 v_init(struct vctx *, struct schema_result *,
		    const struct schema_limits *);
static void	 v_finish(struct vctx *, struct schema_result *);
static uint64_t	 clock_ns(clockid_t);
static int	 v_charge(struct vctx *, unsigned long);
static int	 v_check(struct vctx *);
static void	 v_clock_start(struct vctx *);
static int	 v_clock_ok(struct vctx *);
static void	 v_costly(struct vctx *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	 v_node(struct vctx *, const struct snode *, json_object *);
static int	 v_ref(struct vctx *, const struct snode *, json_object *);
static int	 v_values(struct vctx *, const struct snode *, json_object *);
static int	 v_typed(struct vctx *, const struct snode *, json_object *);
static int	 v_quiet(struct vctx *, const struct snode *, json_object *);
static int	 v_number(struct vctx *, const struct snode *, json_object *);
static int	 v_string(struct vctx *, const struct snode *, const char *,
		    size_t);
static int	 v_name_simple(const struct snode *);
static int	 v_array(struct vctx *, const struct snode *, json_object *);
static int	 v_items(struct vctx *, const struct snode *, json_object *,
		    size_t);
static int	 v_contains(struct vctx *, const struct snode *, json_object *,
		    size_t);
static int	 v_item_eq(struct vctx *, json_object *, size_t, size_t);
static int	 v_unique_pairs(struct vctx *, json_object *, size_t);
static int	 v_unique_find(struct vctx *, struct utable *, json_object *,
		    size_t, uint64_t, int, size_t *);
static int	 v_unique(struct vctx *, json_object *, size_t);
static int	 v_object(struct vctx *, const struct snode *, json_object *);
static int	 v_object_counts(struct vctx *, const struct snode *,
		    json_object *);
static int	 v_member(struct vctx *, const struct snode *, const char *,
		    json_object *);
static void	 v_unexpected(struct vctx *, const char *);
static int	 v_object_member(struct vctx *, const struct snode *,
		    const char *, json_object *);
static int	 v_property_name(struct vctx *, const struct snode *,
		    const char *);
static int	 v_object_deps(struct vctx *, const struct snode *,
		    json_object *);
static int	 v_applicators(struct vctx *, const struct snode *,
		    json_object *);
static void	 v_best_branch(struct vctx *, struct snode *const *, size_t,
		    json_object *);
static int	 v_push_key(struct vctx *, const char *);
static int	 v_push_index(struct vctx *, size_t);
static void	 v_error(struct vctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 v_abort(struct vctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 result_add(struct schema_result *, char *, char *);
static char	*v_path(const struct vctx *);
static void	 v_describe(json_object *, char *, size_t);
static void	 v_types(unsigned, char *, size_t);
static void	 v_type_error(struct vctx *, unsigned, json_object *)
		    __attribute__((noinline));
static int	 v_match(struct vctx *, const struct spattern *, const char *,
		    size_t);
static int	 v_match_costly(struct vctx *, int);
static void	 v_thread_clear(struct vthread *);
static void	 v_thread_free(void *);
static void	 v_thread_key_init(void);
static int	 v_thread_init(struct vthread *);
static struct vthread *v_thread(void);
static void	 result_append(struct schema_result *, struct schema_result *);

static pthread_key_t	 thread_key;
static pthread_once_t	 thread_once = PTHREAD_ONCE_INIT;
static int		 thread_key_ok;
static atomic_int	 use_jit = 1;

#define V_STOP(c)	((c)->res == NULL || (c)->res->truncated || (c)->aborted)

/* ------------------------------------------------------------ strings */

static void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	char	*np;
	size_t	 ncap;

	if (b->oom)
		return;
	if (n >= SIZE_MAX / 2 - b->len) {
		b->oom = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap == 0 ? 64 : b->cap;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sbuf_addc(struct sbuf *b, char c)
{
	sbuf_add(b, &c, 1);
}

static void
sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

static void
sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
	char	 small[256], *big;
	va_list	 ap2;
	int	 n;

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0) {
		va_end(ap2);
		b->oom = 1;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		sbuf_add(b, small, (size_t)n);
		va_end(ap2);
		return;
	}
	if ((big = malloc((size_t)n + 1)) == NULL) {
		va_end(ap2);
		b->oom = 1;
		return;
	}
	vsnprintf(big, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	sbuf_add(b, big, (size_t)n);
	free(big);
}

/* The string, or NULL on allocation failure; the buffer is left empty. */
static char *
sbuf_take(struct sbuf *b)
{
	char	*p;

	if (b->oom) {
		free(b->p);
		memset(b, 0, sizeof(*b));
		return NULL;
	}
	p = b->p != NULL ? b->p : strdup("");
	memset(b, 0, sizeof(*b));
	return p;
}

static void
sbuf_json_string(struct sbuf *b, const char *s, size_t len)
{
	size_t		 i;
	unsigned char	 ch;
	char		 esc[8];

	sbuf_addc(b, '"');
	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		switch (ch) {
		case '"':
			sbuf_add(b, "\\\"", 2);
			break;
		case '\\':
			sbuf_add(b, "\\\\", 2);
			break;
		case '\n':
			sbuf_add(b, "\\n", 2);
			break;
		case '\r':
			sbuf_add(b, "\\r", 2);
			break;
		case '\t':
			sbuf_add(b, "\\t", 2);
			break;
		default:
			if (ch < 0x20 || ch == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", ch);
				sbuf_adds(b, esc);
			} else
				sbuf_addc(b, (char)ch);
		}
	}
	sbuf_addc(b, '"');
}

/* One RFC 6901 reference token: "~" as "~0", "/" as "~1". */
static void
sbuf_pointer_token(struct sbuf *b, const char *s)
{
	sbuf_addc(b, '/');
	for (; *s != '\0'; s++) {
		if (*s == '~')
			sbuf_add(b, "~0", 2);
		else if (*s == '/')
			sbuf_add(b, "~1", 2);
		else
			sbuf_addc(b, *s);
	}
}

/* Shortest text that reads back as the same number. */
static void
snum_format(const struct snum *n, char *buf, size_t size)
{
	int	 prec;

	if (n->is_int) {
		snprintf(buf, size, "%" PRId64, n->i);
		return;
	}
	if (!isfinite(n->d)) {
		snprintf(buf, size, "%s", n->d > 0 ? "1e999" : "-1e999");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, n->d);
		if (strtod(buf, NULL) == n->d)
			return;
	}
}

static int
snum_cmp(const struct snum *a, const struct snum *b)
{
	long double	 x, y;

	if (a->is_int && b->is_int)
		return a->i < b->i ? -1 : a->i > b->i;
	x = a->is_int ? (long double)a->i : (long double)a->d;
	y = b->is_int ? (long double)b->i : (long double)b->d;
	return x < y ? -1 : x > y;
}

static void
json_num(json_object *j, struct snum *n)
{
	uint64_t	 u;

	if (json_object_get_type(j) == json_type_int) {
		n->i = json_object_get_int64(j);
		if (n->i == INT64_MAX &&
		    (u = json_object_get_uint64(j)) > (uint64_t)INT64_MAX) {
			n->is_int = 0;
			n->d = (double)u;
			return;
		}
		n->is_int = 1;
		n->d = (double)n->i;
		return;
	}
	n->is_int = 0;
	n->i = 0;
	n->d = json_object_get_double(j);
}

/*
 * Small replacements for fabs/nearbyint so that the library needs no -lm.
 * Every double of magnitude 2^52 or more is an integer.
 */
static double
dbl_abs(double d)
{
	return d < 0 ? -d : d;
}

/* Nearest integer, ties away from zero. */
static double
dbl_round(double d)
{
	if (!isfinite(d) || dbl_abs(d) >= 4503599627370496.0)
		return d;
	return (double)(int64_t)(d < 0 ? d - 0.5 : d + 0.5);
}

static int
dbl_is_integral(double d)
{
	if (!isfinite(d))
		return 0;
	if (dbl_abs(d) >= 4503599627370496.0)
		return 1;
	return (double)(int64_t)d == d;
}

/* 1.0 is an integer, as in JSON Schema. */
static int
json_is_integer(json_object *j)
{
	double	 d;

	switch (json_object_get_type(j)) {
	case json_type_int:
		return 1;
	case json_type_double:
		d = json_object_get_double(j);
		return dbl_is_integral(d);
	default:
		return 0;
	}
}

static unsigned
json_type_bits(json_object *j)
{
	switch (json_object_get_type(j)) {
	case json_type_null:
		return T_NULL;
	case json_type_boolean:
		return T_BOOLEAN;
	case json_type_int:
		return T_NUMBER | T_INTEGER;
	case json_type_double:
		return json_is_integer(j) ? T_NUMBER | T_INTEGER : T_NUMBER;
	case json_type_string:
		return T_STRING;
	case json_type_array:
		return T_ARRAY;
	case json_type_object:
		return T_OBJECT;
	}
	return 0;
}

static int
json_is_number(json_object *j)
{
	json_type	 t = json_object_get_type(j);

	return t == json_type_int || t == json_type_double;
}

/*
 * JSON equality: numbers by value, objects unordered. *work counts the
 * nodes compared and the members looked up.
 */
static int
json_eq(json_object *a, json_object *b, int depth, unsigned long *work)
{
	json_type	 ta = json_object_get_type(a), tb = json_object_get_type(b);
	struct snum	 na, nb;
	struct lh_entry	*e;
	json_object	*bv;
	size_t		 i, n;

	(*work)++;
	if (depth > SCHEMA_EQ_MAX_DEPTH)
		return 0;
	if (json_is_number(a) && json_is_number(b)) {
		json_num(a, &na);
		json_num(b, &nb);
		return snum_cmp(&na, &nb) == 0;
	}
	if (ta != tb)
		return 0;
	switch (ta) {
	case json_type_null:
		return 1;
	case json_type_boolean:
		return !json_object_get_boolean(a) == !json_object_get_boolean(b);
	case json_type_string:
		return json_object_get_string_len(a) ==
		    json_object_get_string_len(b) &&
		    memcmp(json_object_get_string(a), json_object_get_string(b),
		    (size_t)json_object_get_string_len(a)) == 0;
	case json_type_array:
		n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return 0;
		for (i = 0; i < n; i++)
			if (!json_eq(json_object_array_get_idx(a, i),
			    json_object_array_get_idx(b, i), depth + 1, work))
				return 0;
		return 1;
	case json_type_object:
		if (json_object_object_length(a) != json_object_object_length(b))
			return 0;
		for (e = lh_table_head(json_object_get_object(a)); e != NULL;
		    e = lh_entry_next(e)) {
			(*work)++;	/* the lookup */
			if (!json_object_object_get_ex(b, lh_entry_k(e), &bv))
				return 0;
			if (!json_eq(lh_entry_v(e), bv, depth + 1, work))
				return 0;
		}
		return 1;
	default:
		return 0;
	}
}

/* splitmix64's finaliser: every bit of x moves every bit of the result. */
static uint64_t
hash_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t
hash_bytes(const char *s, size_t len)
{
	uint64_t	 h = 0x9e3779b97f4a7c15ULL ^ len, w;
	size_t		 i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		h = hash_mix(h ^ w);
	}
	w = 0;
	memcpy(&w, s + i, len - i);
	return hash_mix(h ^ w);
}

/*
 * A hash of j consistent with json_eq(): values it finds equal hash alike
 * (1 and 1.0: numbers hash as their double; objects in any key order:
 * their members' hashes are added). *work counts the nodes and the 64-byte
 * blocks of strings. Returns 1 when j holds a NaN, which json_eq() finds
 * equal to any number: such a value must be compared with every other.
 */
static int
json_hash(json_object *j, int depth, uint64_t *hp, unsigned long *work)
{
	struct lh_entry	*e;
	struct snum	 n;
	uint64_t	 h = 0, eh;
	double		 d;
	size_t		 i, len;
	int		 wild = 0;

	(*work)++;
	if (depth > SCHEMA_EQ_MAX_DEPTH) {
		*hp = 0;	/* json_eq() finds nothing this deep equal */
		return 0;
	}
	switch (json_object_get_type(j)) {
	case json_type_null:
		h = 1;
		break;
	case json_type_boolean:
		h = json_object_get_boolean(j) ? 3 : 2;
		break;
	case json_type_int:
	case json_type_double:
		json_num(j, &n);
		d = n.is_int ? (double)n.i : n.d;
		wild = isnan(d);
		d = d == 0 ? 0 : d;	/* -0 == 0 */
		memcpy(&h, &d, sizeof(h));
		h = hash_mix(h) ^ 4;
		break;
	case json_type_string:
		len = (size_t)json_object_get_string_len(j);
		*work += len / 64;
		h = hash_bytes(json_object_get_string(j), len) ^ 5;
		break;
	case json_type_array:
		len = json_object_array_length(j);
		h = hash_mix(len ^ 6);
		for (i = 0; i < len; i++) {
			wild |= json_hash(json_object_array_get_idx(j, i),
			    depth + 1, &eh, work);
			h = hash_mix(h ^ eh);
		}
		break;
	case json_type_object:
		for (e = lh_table_head(json_object_get_object(j)); e != NULL;
		    e = lh_entry_next(e)) {
			wild |= json_hash(lh_entry_v(e), depth + 1, &eh, work);
			len = strlen(lh_entry_k(e));
			*work += len / 64;
			h += hash_mix(hash_bytes(lh_entry_k(e), len) ^ eh);
		}
		h = hash_mix(h ^ 7);
		break;
	}
	*hp = h;
	return wild;
}

/* Compact JSON text of j, stopping once more than max bytes are written. */
static void
json_preview(struct sbuf *b, json_object *j, size_t max, int depth)
{
	struct snum	 n;
	struct lh_entry	*e;
	char		 num[40];
	size_t		 i, len;

	if (b->len > max || b->oom)
		return;
	if (depth > SCHEMA_EQ_MAX_DEPTH) {
		sbuf_adds(b, "...");
		return;
	}
	switch (json_object_get_type(j)) {
	case json_type_null:
		sbuf_adds(b, "null");
		break;
	case json_type_boolean:
		sbuf_adds(b, json_object_get_boolean(j) ? "true" : "false");
		break;
	case json_type_int:
	case json_type_double:
		json_num(j, &n);
		snum_format(&n, num, sizeof(num));
		sbuf_adds(b, num);
		break;
	case json_type_string:
		len = (size_t)json_object_get_string_len(j);
		/* no need to escape what will be cut anyway */
		if (len > max + 1)
			len = max + 1;
		sbuf_json_string(b, json_object_get_string(j), len);
		break;
	case json_type_array:
		sbuf_addc(b, '[');
		len = json_object_array_length(j);
		for (i = 0; i < len && b->len <= max; i++) {
			if (i > 0)
				sbuf_addc(b, ',');
			json_preview(b, json_object_array_get_idx(j, i), max,
			    depth + 1);
		}
		sbuf_addc(b, ']');
		break;
	case json_type_object:
		sbuf_addc(b, '{');
		for (e = lh_table_head(json_object_get_object(j));
		    e != NULL && b->len <= max; e = lh_entry_next(e)) {
			if (e != lh_table_head(json_object_get_object(j)))
				sbuf_addc(b, ',');
			sbuf_json_string(b, lh_entry_k(e),
			    strlen(lh_entry_k(e)));
			sbuf_addc(b, ':');
			json_preview(b, lh_entry_v(e), max, depth + 1);
		}
		sbuf_addc(b, '}');
		break;
	}
}

/* A copy of j, a unit of cc's budget per node and per 64 bytes of text. */
static int
sv_from_json(struct schema_value *v, json_object *j, int depth,
    struct cctx *cc)
{
	struct lh_entry	*e;
	size_t		 i, n;

	memset(v, 0, sizeof(*v));
	if (depth > SCHEMA_EQ_MAX_DEPTH || c_charge(cc, 1) == -1)
		return -1;
	switch (json_object_get_type(j)) {
	case json_type_null:
		v->kind = SV_NULL;
		return 0;
	case json_type_boolean:
		v->kind = SV_BOOL;
		v->u.b = json_object_get_boolean(j) ? 1 : 0;
		return 0;
	case json_type_int:
	case json_type_double:
		v->kind = SV_NUMBER;
		json_num(j, &v->u.n);
		return 0;
	case json_type_string:
		v->kind = SV_STRING;
		v->u.str.len = (size_t)json_object_get_string_len(j);
		if (c_charge(cc, v->u.str.len / 64) == -1 ||
		    (v->u.str.s = malloc(v->u.str.len + 1)) == NULL)
			return -1;
		memcpy(v->u.str.s, json_object_get_string(j), v->u.str.len);
		v->u.str.s[v->u.str.len] = '\0';
		return 0;
	case json_type_array:
		v->kind = SV_ARRAY;
		n = json_object_array_length(j);
		if (n == 0)
			return 0;
		if ((v->u.arr.v = calloc(n, sizeof(*v->u.arr.v))) == NULL)
			return -1;
		for (i = 0; i < n; i++) {
			v->u.arr.n++;
			if (sv_from_json(&v->u.arr.v[i],
			    json_object_array_get_idx(j, i), depth + 1,
			    cc) == -1)
				return -1;
		}
		return 0;
	case json_type_object:
		v->kind = SV_OBJECT;
		n = (size_t)json_object_object_length(j);
		if (n == 0)
			return 0;
		if ((v->u.obj.m = calloc(n, sizeof(*v->u.obj.m))) == NULL)
			return -1;
		i = 0;
		for (e = lh_table_head(json_object_get_object(j)); e != NULL &&
		    i < n; e = lh_entry_next(e), i++) {
			v->u.obj.n++;
			if ((v->u.obj.m[i].key = strdup(lh_entry_k(e))) == NULL)
				return -1;
			if (sv_from_json(&v->u.obj.m[i].v, lh_entry_v(e),
			    depth + 1, cc) == -1)
				return -1;
		}
		return 0;
	}
	return -1;
}

static void
sv_free(struct schema_value *v)
{
	size_t	 i;

	switch (v->kind) {
	case SV_STRING:
		free(v->u.str.s);
		break;
	case SV_ARRAY:
		for (i = 0; i < v->u.arr.n; i++)
			sv_free(&v->u.arr.v[i]);
		free(v->u.arr.v);
		break;
	case SV_OBJECT:
		for (i = 0; i < v->u.obj.n; i++) {
			free(v->u.obj.m[i].key);
			sv_free(&v->u.obj.m[i].v);
		}
		free(v->u.obj.m);
		break;
	default:
		break;
	}
	memset(v, 0, sizeof(*v));
}

/* v equals j (as json_eq); *work: nodes compared, members looked up. */
static int
sv_eq(const struct schema_value *v, json_object *j, int depth,
    unsigned long *work)
{
	struct snum	 n;
	json_object	*jv;
	size_t		 i;

	(*work)++;
	if (depth > SCHEMA_EQ_MAX_DEPTH)
		return 0;
	switch (v->kind) {
	case SV_NULL:
		return json_object_get_type(j) == json_type_null;
	case SV_BOOL:
		return json_object_get_type(j) == json_type_boolean &&
		    !json_object_get_boolean(j) == !v->u.b;
	case SV_NUMBER:
		if (!json_is_number(j))
			return 0;
		json_num(j, &n);
		return snum_cmp(&v->u.n, &n) == 0;
	case SV_STRING:
		return json_object_get_type(j) == json_type_string &&
		    (size_t)json_object_get_string_len(j) == v->u.str.len &&
		    memcmp(json_object_get_string(j), v->u.str.s,
		    v->u.str.len) == 0;
	case SV_ARRAY:
		if (json_object_get_type(j) != json_type_array ||
		    json_object_array_length(j) != v->u.arr.n)
			return 0;
		for (i = 0; i < v->u.arr.n; i++)
			if (!sv_eq(&v->u.arr.v[i],
			    json_object_array_get_idx(j, i), depth + 1, work))
				return 0;
		return 1;
	case SV_OBJECT:
		if (json_object_get_type(j) != json_type_object ||
		    (size_t)json_object_object_length(j) != v->u.obj.n)
			return 0;
		for (i = 0; i < v->u.obj.n; i++) {
			(*work)++;	/* the lookup */
			if (!json_object_object_get_ex(j, v->u.obj.m[i].key,
			    &jv))
				return 0;
			if (!sv_eq(&v->u.obj.m[i].v, jv, depth + 1, work))
				return 0;
		}
		return 1;
	}
	return 0;
}

static void
sv_write(struct sbuf *b, const struct schema_value *v, size_t max)
{
	char	 num[40];
	size_t	 i;

	if (b->len > max || b->oom)
		return;
	switch (v->kind) {
	case SV_NULL:
		sbuf_adds(b, "null");
		break;
	case SV_BOOL:
		sbuf_adds(b, v->u.b ? "true" : "false");
		break;
	case SV_NUMBER:
		snum_format(&v->u.n, num, sizeof(num));
		sbuf_adds(b, num);
		break;
	case SV_STRING:
		sbuf_json_string(b, v->u.str.s, v->u.str.len);
		break;
	case SV_ARRAY:
		sbuf_addc(b, '[');
		for (i = 0; i < v->u.arr.n && b->len <= max; i++) {
			if (i > 0)
				sbuf_addc(b, ',');
			sv_write(b, &v->u.arr.v[i], max);
		}
		sbuf_addc(b, ']');
		break;
	case SV_OBJECT:
		sbuf_addc(b, '{');
		for (i = 0; i < v->u.obj.n && b->len <= max; i++) {
			if (i > 0)
				sbuf_addc(b, ',');
			sbuf_json_string(b, v->u.obj.m[i].key,
			    strlen(v->u.obj.m[i].key));
			sbuf_addc(b, ':');
			sv_write(b, &v->u.obj.m[i].v, max);
		}
		sbuf_addc(b, '}');
		break;
	}
}

/*
 * Unicode code points of UTF-8 text: bytes that do not continue one
 * (10xxxxxx), eight at a time.
 */
static size_t
utf8_length(const char *s, size_t len)
{
	const uint64_t	 high = 0x8080808080808080ULL;
	uint64_t	 w;
	size_t		 i, n = 0;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		n += 8 - (size_t)__builtin_popcountll(w & ~(w << 1) & high);
	}
	for (; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* Cut a preview to max bytes on a UTF-8 boundary and mark it with "...". */
static void
preview_cut(struct sbuf *b, size_t max)
{
	size_t	 cut;

	if (b->oom || b->len <= max)
		return;
	cut = max;
	while (cut > 0 && ((unsigned char)b->p[cut] & 0xc0) == 0x80)
		cut--;
	b->len = cut;
	b->p[cut] = '\0';
	sbuf_adds(b, "...");
}

/* ---------------------------------------------------------------- URIs */

struct uri {
	const char	*scheme, *auth, *path, *query, *frag;
	size_t		 scheme_len, auth_len, path_len, query_len, frag_len;
	int		 has_scheme, has_auth, has_query, has_frag;
};

static void
uri_parse(const char *s, struct uri *u)
{
	const char	*p = s;

	memset(u, 0, sizeof(*u));
	if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
		p++;
		while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' ||
		    *p == '.')
			p++;
		if (*p == ':') {
			u->has_scheme = 1;
			u->scheme = s;
			u->scheme_len = (size_t)(p - s);
			p++;
		} else
			p = s;
	}
	if (p[0] == '/' && p[1] == '/') {
		p += 2;
		u->has_auth = 1;
		u->auth = p;
		while (*p != '\0' && *p != '/' && *p != '?' && *p != '#')
			p++;
		u->auth_len = (size_t)(p - u->auth);
	}
	u->path = p;
	while (*p != '\0' && *p != '?' && *p != '#')
		p++;
	u->path_len = (size_t)(p - u->path);
	if (*p == '?') {
		u->has_query = 1;
		u->query = ++p;
		while (*p != '\0' && *p != '#')
			p++;
		u->query_len = (size_t)(p - u->query);
	}
	if (*p == '#') {
		u->has_frag = 1;
		u->frag = ++p;
		u->frag_len = strlen(p);
	}
}

/* RFC 3986 5.2.4, appending the result to out. */
static void
uri_remove_dots(struct sbuf *out, const char *in, size_t len)
{
	struct sbuf	 b = { 0 };
	const char	*p = in, *end = in + len, *seg;
	char		*slash;

	while (p < end) {
		if (end - p >= 3 && strncmp(p, "../", 3) == 0)
			p += 3;
		else if (end - p >= 2 && strncmp(p, "./", 2) == 0)
			p += 2;
		else if (end - p >= 3 && strncmp(p, "/./", 3) == 0)
			p += 2;
		else if (end - p == 2 && strncmp(p, "/.", 2) == 0) {
			p += 1;
			sbuf_addc(&b, '/');
			break;
		} else if (end - p >= 4 && strncmp(p, "/../", 4) == 0) {
			p += 3;
			if (b.p != NULL && (slash = strrchr(b.p, '/')) != NULL) {
				b.len = (size_t)(slash - b.p);
				b.p[b.len] = '\0';
			} else if (b.p != NULL) {
				b.len = 0;
				b.p[0] = '\0';
			}
		} else if (end - p == 3 && strncmp(p, "/..", 3) == 0) {
			p += 3;
			if (b.p != NULL && (slash = strrchr(b.p, '/')) != NULL) {
				b.len = (size_t)(slash - b.p);
				b.p[b.len] = '\0';
			} else if (b.p != NULL) {
				b.len = 0;
				b.p[0] = '\0';
			}
			sbuf_addc(&b, '/');
		} else if ((end - p == 1 && *p == '.') ||
		    (end - p == 2 && strncmp(p, "..", 2) == 0))
			break;
		else {
			seg = p;
			if (*p == '/')
				p++;
			while (p < end && *p != '/')
				p++;
			sbuf_add(&b, seg, (size_t)(p - seg));
		}
	}
	if (b.p != NULL)
		sbuf_add(out, b.p, b.len);
	if (b.oom)
		out->oom = 1;
	free(b.p);
}

/* ref resolved against base (RFC 3986 5.2.2); NULL on allocation failure. */
static char *
uri_resolve(const char *base, const char *ref)
{
	struct uri	 b, r;
	struct sbuf	 out = { 0 }, merged = { 0 };
	const char	*query = NULL, *slash;
	size_t		 query_len = 0;
	int		 has_query = 0;

	uri_parse(base, &b);
	uri_parse(ref, &r);
	if (r.has_scheme) {
		sbuf_add(&out, r.scheme, r.scheme_len);
		sbuf_addc(&out, ':');
		if (r.has_auth) {
			sbuf_add(&out, "//", 2);
			sbuf_add(&out, r.auth, r.auth_len);
		}
		uri_remove_dots(&out, r.path, r.path_len);
		has_query = r.has_query;
		query = r.query;
		query_len = r.query_len;
		goto tail;
	}
	if (b.has_scheme) {
		sbuf_add(&out, b.scheme, b.scheme_len);
		sbuf_addc(&out, ':');
	}
	if (r.has_auth) {
		sbuf_add(&out, "//", 2);
		sbuf_add(&out, r.auth, r.auth_len);
		uri_remove_dots(&out, r.path, r.path_len);
		has_query = r.has_query;
		query = r.query;
		query_len = r.query_len;
		goto tail;
	}
	if (b.has_auth) {
		sbuf_add(&out, "//", 2);
		sbuf_add(&out, b.auth, b.auth_len);
	}
	if (r.path_len == 0) {
		sbuf_add(&out, b.path, b.path_len);
		if (r.has_query) {
			has_query = 1;
			query = r.query;
			query_len = r.query_len;
		} else {
			has_query = b.has_query;
			query = b.query;
			query_len = b.query_len;
		}
	} else {
		if (r.path[0] == '/')
			uri_remove_dots(&out, r.path, r.path_len);
		else {
			if (b.has_auth && b.path_len == 0)
				sbuf_addc(&merged, '/');
			else {
				for (slash = b.path + b.path_len; slash > b.path;
				    slash--)
					if (slash[-1] == '/')
						break;
				sbuf_add(&merged, b.path,
				    (size_t)(slash - b.path));
			}
			sbuf_add(&merged, r.path, r.path_len);
			if (merged.p != NULL)
				uri_remove_dots(&out, merged.p, merged.len);
			if (merged.oom)
				out.oom = 1;
			free(merged.p);
		}
		has_query = r.has_query;
		query = r.query;
		query_len = r.query_len;
	}
tail:
	if (has_query) {
		sbuf_addc(&out, '?');
		sbuf_add(&out, query, query_len);
	}
	if (r.has_frag) {
		sbuf_addc(&out, '#');
		sbuf_add(&out, r.frag, r.frag_len);
	}
	return sbuf_take(&out);
}

static char *
uri_strip_fragment(const char *s)
{
	const char	*h = strchr(s, '#');

	return h == NULL ? strdup(s) : strndup(s, (size_t)(h - s));
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s in place. */
static void
percent_decode(char *s)
{
	char	*w = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*w++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else
			*w++ = *s;
	}
	*w = '\0';
}

/*
 * Walk a JSON Pointer (already percent-decoded, "" or starting with "/")
 * from j. 0 and *out on success, -1 when it leads nowhere.
 */
static int
pointer_walk(json_object *j, const char *ptr, json_object **out)
{
	struct sbuf	 tok = { 0 };
	const char	*p = ptr;
	char		*end;
	unsigned long	 idx;
	json_object	*next;

	if (*p != '\0' && *p != '/')
		return -1;
	while (*p == '/') {
		p++;
		tok.len = 0;
		if (tok.p != NULL)
			tok.p[0] = '\0';
		while (*p != '\0' && *p != '/') {
			if (p[0] == '~' && p[1] == '0') {
				sbuf_addc(&tok, '~');
				p += 2;
			} else if (p[0] == '~' && p[1] == '1') {
				sbuf_addc(&tok, '/');
				p += 2;
			} else
				sbuf_addc(&tok, *p++);
		}
		sbuf_addc(&tok, '\0');	/* make tok.p non-NULL */
		tok.len--;
		if (tok.oom)
			goto fail;
		switch (json_object_get_type(j)) {
		case json_type_object:
			if (!json_object_object_get_ex(j, tok.p, &next))
				goto fail;
			break;
		case json_type_array:
			if (tok.len == 0 || tok.p[0] < '0' || tok.p[0] > '9' ||
			    (tok.p[0] == '0' && tok.len > 1))
				goto fail;
			errno = 0;
			idx = strtoul(tok.p, &end, 10);
			if (errno != 0 || *end != '\0' ||
			    idx >= json_object_array_length(j))
				goto fail;
			next = json_object_array_get_idx(j, idx);
			break;
		default:
			goto fail;
		}
		j = next;
	}
	free(tok.p);
	*out = j;
	return 0;
fail:
	free(tok.p);
	return -1;
}

/* ------------------------------------------------------------- compile */

static void
c_err(struct cctx *cc, const char *fmt, ...)
{
	va_list	 ap;

	if (cc->failed)
		return;
	cc->failed = 1;
	if (cc->err == NULL || cc->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(cc->err, cc->errlen, fmt, ap);
	va_end(ap);
}

/* Charge n units of work to the compile budget: -1 once it runs out. */
static int
c_charge(struct cctx *cc, unsigned long n)
{
	if (n > *cc->budget) {
		*cc->budget = 0;
		c_err(cc, "schema too large to compile");
		return -1;
	}
	*cc->budget -= n;
	return 0;
}

static void *
c_calloc(struct cctx *cc, size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, size)) == NULL)
		c_err(cc, "out of memory");
	return p;
}

static char *
c_strdup(struct cctx *cc, const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		c_err(cc, "out of memory");
	return p;
}

/* loc + "/" + escaped token (token may be NULL for loc itself). */
static char *
c_loc(struct cctx *cc, const char *loc, const char *token)
{
	struct sbuf	 b = { 0 };
	char		*p;

	if (c_charge(cc, 1 + (strlen(loc) + (token != NULL ? strlen(token) :
	    0)) / 64) == -1)
		return NULL;
	sbuf_adds(&b, loc);
	if (token != NULL)
		sbuf_pointer_token(&b, token);
	if ((p = sbuf_take(&b)) == NULL)
		c_err(cc, "out of memory");
	return p;
}

static size_t
ptr_hash(const void *p)
{
	uintptr_t	 x = (uintptr_t)p;

	x ^= x >> 17;
	x *= (uintptr_t)0x9e3779b97f4a7c15ULL;
	x ^= x >> 29;
	return (size_t)x;
}

/* Entry index of j plus one, 0 when j has not been scanned. */
static size_t
c_lookup(struct cctx *cc, json_object *j)
{
	size_t	 h;

	if (cc->mapcap == 0)
		return 0;
	for (h = ptr_hash(j) & (cc->mapcap - 1); cc->map[h] != 0;
	    h = (h + 1) & (cc->mapcap - 1))
		if (cc->entries[cc->map[h] - 1].j == j)
			return cc->map[h];
	return 0;
}

static int
c_map_insert(struct cctx *cc, json_object *j, size_t idx)
{
	size_t	*nmap, ncap, h, i;

	if ((cc->nentries + 1) * 2 > cc->mapcap) {
		ncap = cc->mapcap == 0 ? 64 : cc->mapcap * 2;
		if ((nmap = c_calloc(cc, ncap, sizeof(*nmap))) == NULL)
			return -1;
		for (i = 0; i < cc->mapcap; i++) {
			if (cc->map[i] == 0)
				continue;
			for (h = ptr_hash(cc->entries[cc->map[i] - 1].j) &
			    (ncap - 1); nmap[h] != 0; h = (h + 1) & (ncap - 1))
				;
			nmap[h] = cc->map[i];
		}
		free(cc->map);
		cc->map = nmap;
		cc->mapcap = ncap;
	}
	for (h = ptr_hash(j) & (cc->mapcap - 1); cc->map[h] != 0;
	    h = (h + 1) & (cc->mapcap - 1))
		;
	cc->map[h] = idx + 1;
	return 0;
}

/* Grow *arr (of *cap elements of size) to hold one more than n. */
static int
c_grow(struct cctx *cc, void *arrp, size_t n, size_t *cap, size_t size)
{
	void	**arr = arrp, *np;
	size_t	 ncap;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 16 : *cap * 2;
	if ((np = realloc(*arr, ncap * size)) == NULL) {
		c_err(cc, "out of memory");
		return -1;
	}
	*arr = np;
	*cap = ncap;
	return 0;
}

static int
c_add_entry(struct cctx *cc, json_object *j, const char *base, int draft7,
    const char *loc)
{
	struct centry	*e;

	if (c_charge(cc, 4 + (strlen(base) + strlen(loc)) / 32) == -1)
		return -1;
	if (c_grow(cc, &cc->entries, cc->nentries, &cc->centries,
	    sizeof(*cc->entries)) == -1)
		return -1;
	if (c_map_insert(cc, j, cc->nentries) == -1)
		return -1;
	e = &cc->entries[cc->nentries++];
	memset(e, 0, sizeof(*e));
	e->j = j;
	e->draft7 = draft7;
	if ((e->base = c_strdup(cc, base)) == NULL ||
	    (e->loc = c_strdup(cc, loc)) == NULL)
		return -1;
	return 0;
}

static int
c_add_resource(struct cctx *cc, const char *uri, json_object *j,
    const char *base, int draft7)
{
	struct cresource	*r;
	size_t			 i;

	if (c_charge(cc, 1 + cc->nres + strlen(uri) / 64) == -1)
		return -1;
	for (i = 0; i < cc->nres; i++)
		if (strcmp(cc->res[i].uri, uri) == 0)
			return 0;	/* the first one wins */
	if (c_grow(cc, &cc->res, cc->nres, &cc->cres, sizeof(*cc->res)) == -1)
		return -1;
	r = &cc->res[cc->nres++];
	memset(r, 0, sizeof(*r));
	r->j = j;
	r->draft7 = draft7;
	if ((r->uri = c_strdup(cc, uri)) == NULL ||
	    (r->base = c_strdup(cc, base)) == NULL)
		return -1;
	return 0;
}

static int
c_add_anchor(struct cctx *cc, const char *uri, const char *name,
    json_object *j)
{
	struct canchor	*a;
	size_t		 i;

	if (c_charge(cc, 1 + cc->nanchors + (strlen(uri) + strlen(name)) /
	    64) == -1)
		return -1;
	for (i = 0; i < cc->nanchors; i++)
		if (strcmp(cc->anchors[i].uri, uri) == 0 &&
		    strcmp(cc->anchors[i].name, name) == 0)
			return 0;
	if (c_grow(cc, &cc->anchors, cc->nanchors, &cc->canchors,
	    sizeof(*cc->anchors)) == -1)
		return -1;
	a = &cc->anchors[cc->nanchors++];
	memset(a, 0, sizeof(*a));
	a->j = j;
	if ((a->uri = c_strdup(cc, uri)) == NULL ||
	    (a->name = c_strdup(cc, name)) == NULL)
		return -1;
	return 0;
}

/* 1 for draft-07 (and older) meta-schema URIs, 0 for 2019-09/2020-12. */
static int
draft_of(const char *uri, int dflt)
{
	if (strstr(uri, "draft-07") != NULL || strstr(uri, "draft-06") != NULL ||
	    strstr(uri, "draft-04") != NULL || strstr(uri, "draft-03") != NULL)
		return 1;
	if (strstr(uri, "2020-12") != NULL || strstr(uri, "2019-09") != NULL)
		return 0;
	return dflt;
}

static const char *const scan_single[] = {
	"additionalProperties", "propertyNames", "items", "additionalItems",
	"contains", "not", "if", "then", "else", NULL
};
static const char *const scan_array[] = {
	"allOf", "anyOf", "oneOf", "prefixItems", "items", NULL
};
static const char *const scan_map[] = {
	"properties", "patternProperties", "$defs", "definitions",
	"dependentSchemas", "dependencies", NULL
};

static int
c_scan_child(struct cctx *cc, json_object *j, const char *base, int draft7,
    const char *loc, const char *token, int depth)
{
	char	*cloc;
	int	 rc;

	if (json_object_get_type(j) != json_type_object &&
	    json_object_get_type(j) != json_type_boolean)
		return 0;
	if ((cloc = c_loc(cc, loc, token)) == NULL)
		return -1;
	rc = c_scan(cc, j, base, draft7, cloc, depth + 1);
	free(cloc);
	return rc;
}

/*
 * The $id of schema j: registers the resource or the anchor it names.
 * *own gets the new base URI when j starts a resource; the caller frees it.
 */
static int
c_scan_id(struct cctx *cc, json_object *j, const char *base, int draft7,
    json_object *id, char **own)
{
	const char	*s = json_object_get_string(id);
	char		*abs = NULL, *doc = NULL, *frag;
	int		 rc = -1;

	*own = NULL;
	if (c_charge(cc, 1 + (strlen(base) + strlen(s)) / 64) == -1)
		return -1;
	if ((abs = uri_resolve(base, s)) == NULL ||
	    (doc = uri_strip_fragment(abs)) == NULL) {
		c_err(cc, "out of memory");
		goto done;
	}
	frag = strchr(abs, '#');
	if (s[0] != '#') {
		if (c_add_resource(cc, doc, j, doc, draft7) == -1)
			goto done;
		*own = doc;
		doc = NULL;
		base = *own;
	}
	if (frag != NULL && frag[1] != '\0') {
		percent_decode(frag + 1);
		if (frag[1] != '/' && c_add_anchor(cc, base, frag + 1, j) == -1)
			goto done;
	}
	rc = 0;
done:
	free(abs);
	free(doc);
	return rc;
}

/* Every subschema of j, under the keywords that hold subschemas. */
static int
c_scan_children(struct cctx *cc, json_object *j, const char *base,
    int draft7, const char *loc, int depth)
{
	json_object	*v;
	struct lh_entry	*e;
	char		*kloc = NULL;
	size_t		 i, k;
	char		 idx[32];

	for (k = 0; scan_single[k] != NULL; k++)
		if (json_object_object_get_ex(j, scan_single[k], &v) &&
		    c_scan_child(cc, v, base, draft7, loc, scan_single[k],
		    depth) == -1)
			return -1;
	for (k = 0; scan_array[k] != NULL; k++) {
		if (!json_object_object_get_ex(j, scan_array[k], &v) ||
		    json_object_get_type(v) != json_type_array)
			continue;
		if ((kloc = c_loc(cc, loc, scan_array[k])) == NULL)
			return -1;
		for (i = 0; i < json_object_array_length(v); i++) {
			snprintf(idx, sizeof(idx), "%zu", i);
			if (c_scan_child(cc, json_object_array_get_idx(v, i),
			    base, draft7, kloc, idx, depth) == -1)
				goto fail;
		}
		free(kloc);
	}
	for (k = 0; scan_map[k] != NULL; k++) {
		if (!json_object_object_get_ex(j, scan_map[k], &v) ||
		    json_object_get_type(v) != json_type_object)
			continue;
		if ((kloc = c_loc(cc, loc, scan_map[k])) == NULL)
			return -1;
		for (e = lh_table_head(json_object_get_object(v)); e != NULL;
		    e = lh_entry_next(e))
			if (c_scan_child(cc, lh_entry_v(e), base, draft7, kloc,
			    lh_entry_k(e), depth) == -1)
				goto fail;
		free(kloc);
	}
	return 0;
fail:
	free(kloc);
	return -1;
}

/*
 * Record every schema position under j with its base URI, and every $id and
 * anchor. Positions that are not schemas (a number where a schema should
 * be) are left for the build to report if they are ever used.
 */
static int
c_scan(struct cctx *cc, json_object *j, const char *base, int draft7,
    const char *loc, int depth)
{
	json_object	*v;
	char		*own = NULL;
	int		 has_ref;

	if (depth > SCHEMA_SCAN_MAX_DEPTH) {
		c_err(cc, "%s: schema nested more than %d levels", loc,
		    SCHEMA_SCAN_MAX_DEPTH);
		return -1;
	}
	if (c_lookup(cc, j) != 0)
		return 0;
	if (json_object_get_type(j) == json_type_boolean)
		return c_add_entry(cc, j, base, draft7, loc);
	if (json_object_get_type(j) != json_type_object)
		return 0;
	if (c_charge(cc, 1 + (unsigned long)json_object_object_length(j)) ==
	    -1)
		return -1;
	if (json_object_object_get_ex(j, "$schema", &v) &&
	    json_object_get_type(v) == json_type_string)
		draft7 = draft_of(json_object_get_string(v), draft7);
	has_ref = json_object_object_get_ex(j, "$ref", &v) &&
	    json_object_get_type(v) == json_type_string;

	/* In draft-07 a $ref makes every sibling, $id included, ignored. */
	if (json_object_object_get_ex(j, "$id", &v) &&
	    json_object_get_type(v) == json_type_string &&
	    !(draft7 && has_ref)) {
		if (c_scan_id(cc, j, base, draft7, v, &own) == -1)
			goto fail;
		if (own != NULL)
			base = own;
	}
	if (!draft7) {
		if (json_object_object_get_ex(j, "$anchor", &v) &&
		    json_object_get_type(v) == json_type_string &&
		    c_add_anchor(cc, base, json_object_get_string(v), j) == -1)
			goto fail;
		if (json_object_object_get_ex(j, "$dynamicAnchor", &v) &&
		    json_object_get_type(v) == json_type_string &&
		    c_add_anchor(cc, base, json_object_get_string(v), j) == -1)
			goto fail;
	}
	if (c_add_entry(cc, j, base, draft7, loc) == -1 ||
	    c_scan_children(cc, j, base, draft7, loc, depth) == -1)
		goto fail;
	free(own);
	return 0;
fail:
	free(own);
	return -1;
}

/* The node of entry idx, allocated and queued for the build on first use. */
static struct snode *
c_node(struct cctx *cc, size_t idx)
{
	struct snode	**nn, *n;
	size_t		  ncap;

	if (cc->entries[idx].node != NULL)
		return cc->entries[idx].node;
	if (c_charge(cc, 8) == -1 || (n = c_calloc(cc, 1, sizeof(*n))) == NULL)
		return NULL;
	ncap = cc->s->nnodes;
	if ((ncap & (ncap - 1)) == 0) {	/* 0, 1, 2, 4...: grow */
		if ((nn = realloc(cc->s->nodes,
		    (ncap == 0 ? 1 : ncap * 2) * sizeof(*nn))) == NULL) {
			free(n);
			c_err(cc, "out of memory");
			return NULL;
		}
		cc->s->nodes = nn;
	}
	cc->s->nodes[cc->s->nnodes++] = n;
	if (c_grow(cc, &cc->work, cc->nwork, &cc->cwork,
	    sizeof(*cc->work)) == -1)
		return NULL;
	cc->work[cc->nwork++] = idx;
	cc->entries[idx].node = n;
	return n;
}

/* The node for subschema j found under keyword token of entry parent. */
static struct snode *
c_child(struct cctx *cc, size_t parent, json_object *j, const char *kw,
    const char *token)
{
	size_t	 idx;
	char	*loc = NULL, *loc2 = NULL;

	if (c_charge(cc, 1) == -1)
		return NULL;
	if (json_object_get_type(j) != json_type_object &&
	    json_object_get_type(j) != json_type_boolean) {
		if ((loc = c_loc(cc, cc->entries[parent].loc, kw)) != NULL &&
		    (loc2 = c_loc(cc, loc, token)) != NULL)
			c_err(cc, "%s: must be a schema (an object or a boolean)",
			    loc2[0] == '\0' ? "/" : loc2);
		free(loc);
		free(loc2);
		return NULL;
	}
	if ((idx = c_lookup(cc, j)) == 0) {
		if ((loc = c_loc(cc, cc->entries[parent].loc, kw)) == NULL ||
		    (loc2 = c_loc(cc, loc, token)) == NULL ||
		    c_scan(cc, j, cc->entries[parent].base,
		    cc->entries[parent].draft7, loc2, 0) == -1) {
			free(loc);
			free(loc2);
			return NULL;
		}
		free(loc);
		free(loc2);
		if ((idx = c_lookup(cc, j)) == 0) {
			c_err(cc, "internal error: schema not scanned");
			return NULL;
		}
	}
	return c_node(cc, idx - 1);
}

static struct snode **
c_child_array(struct cctx *cc, size_t parent, json_object *v, const char *kw,
    size_t *np)
{
	struct snode	**arr;
	size_t		  i, n;
	char		  idx[32];

	if (json_object_get_type(v) != json_type_array) {
		c_err(cc, "%s/%s: must be an array of schemas",
		    cc->entries[parent].loc, kw);
		return NULL;
	}
	n = json_object_array_length(v);
	if ((arr = c_calloc(cc, n, sizeof(*arr))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		snprintf(idx, sizeof(idx), "%zu", i);
		if ((arr[i] = c_child(cc, parent, json_object_array_get_idx(v, i),
		    kw, idx)) == NULL) {
			free(arr);
			return NULL;
		}
	}
	*np = n;
	return arr;
}

static struct snode *
c_resolve_ref(struct cctx *cc, size_t idx, const char *ref)
{
	struct centry		*e = &cc->entries[idx];
	struct cresource	*r = NULL;
	json_object		*target = NULL;
	char			*abs = NULL, *doc = NULL, *frag = NULL, *loc;
	size_t			 i, t;
	struct snode		*n = NULL;

	/* the resources and anchors are searched, a pointer walked */
	if (c_charge(cc, 1 + cc->nres + cc->nanchors + strlen(e->base) / 64 +
	    strlen(ref) / 8) == -1)
		goto done;
	if ((abs = uri_resolve(e->base, ref)) == NULL ||
	    (doc = uri_strip_fragment(abs)) == NULL) {
		c_err(cc, "out of memory");
		goto done;
	}
	if ((frag = strchr(abs, '#')) != NULL)
		percent_decode(++frag);
	for (i = 0; i < cc->nres; i++)
		if (strcmp(cc->res[i].uri, doc) == 0) {
			r = &cc->res[i];
			break;
		}
	if (r == NULL) {
		c_err(cc, "%s: $ref \"%s\" cannot be resolved inside the "
		    "schema (remote references are not supported)",
		    e->loc[0] == '\0' ? "/" : e->loc, ref);
		goto done;
	}
	if (frag == NULL || frag[0] == '\0')
		target = r->j;
	else if (frag[0] == '/') {
		if (pointer_walk(r->j, frag, &target) == -1) {
			c_err(cc, "%s: $ref \"%s\" points to nothing",
			    e->loc[0] == '\0' ? "/" : e->loc, ref);
			goto done;
		}
	} else {
		for (i = 0; i < cc->nanchors; i++)
			if (strcmp(cc->anchors[i].uri, doc) == 0 &&
			    strcmp(cc->anchors[i].name, frag) == 0) {
				target = cc->anchors[i].j;
				break;
			}
		if (target == NULL) {
			c_err(cc, "%s: $ref \"%s\": no such anchor",
			    e->loc[0] == '\0' ? "/" : e->loc, ref);
			goto done;
		}
	}
	if (json_object_get_type(target) != json_type_object &&
	    json_object_get_type(target) != json_type_boolean) {
		c_err(cc, "%s: $ref \"%s\" does not point to a schema",
		    e->loc[0] == '\0' ? "/" : e->loc, ref);
		goto done;
	}
	if ((t = c_lookup(cc, target)) == 0) {
		/* a pointer into a place the scan did not see as a schema */
		if ((loc = c_loc(cc, "", NULL)) == NULL)
			goto done;
		i = (size_t)(r - cc->res);
		if (c_scan(cc, target, cc->res[i].base, cc->res[i].draft7,
		    frag != NULL ? frag : loc, 0) == -1) {
			free(loc);
			goto done;
		}
		free(loc);
		if ((t = c_lookup(cc, target)) == 0) {
			c_err(cc, "internal error: $ref target not scanned");
			goto done;
		}
	}
	n = c_node(cc, t - 1);
done:
	free(abs);
	free(doc);
	return n;
}

static int
c_build_number(struct cctx *cc, size_t idx, json_object *v, const char *kw,
    struct snum *out, char **txt)
{
	char	 buf[40];

	if (!json_is_number(v)) {
		c_err(cc, "%s/%s: must be a number", cc->entries[idx].loc, kw);
		return -1;
	}
	json_num(v, out);
	snum_format(out, buf, sizeof(buf));
	if ((*txt = c_strdup(cc, buf)) == NULL)
		return -1;
	return 0;
}

static int
c_count(struct cctx *cc, size_t idx, json_object *v, const char *kw,
    size_t *out)
{
	struct snum	 n;

	if (!json_is_number(v) || !json_is_integer(v))
		goto fail;
	json_num(v, &n);
	if (n.is_int) {
		if (n.i < 0)
			goto fail;
		*out = (size_t)n.i;
	} else {
		if (n.d < 0)
			goto fail;
		*out = n.d >= (double)SIZE_MAX ? SIZE_MAX : (size_t)n.d;
	}
	return 0;
fail:
	c_err(cc, "%s/%s: must be a non-negative integer",
	    cc->entries[idx].loc, kw);
	return -1;
}

/*
 * Make a pattern mean in PCRE2 what it means in ECMA-262. Without PCRE2_UCP,
 * \d, \w and \b are ASCII as in ECMA-262, but \s must also take Unicode
 * spaces; Unicode properties are spelt \p{Letter}, \p{gc=Lu} or
 * \p{Script=Greek} there and \p{L}, \p{Lu}, \p{Greek} in PCRE2.
 */
static void
c_regex_ecma(struct sbuf *out, const char *pat, size_t len)
{
	static const char *const gc[][2] = {
		{ "Letter", "L" }, { "Cased_Letter", "L&" },
		{ "Uppercase_Letter", "Lu" }, { "Lowercase_Letter", "Ll" },
		{ "Titlecase_Letter", "Lt" }, { "Modifier_Letter", "Lm" },
		{ "Other_Letter", "Lo" }, { "Mark", "M" },
		{ "Combining_Mark", "M" }, { "Nonspacing_Mark", "Mn" },
		{ "Spacing_Mark", "Mc" }, { "Enclosing_Mark", "Me" },
		{ "Number", "N" }, { "Decimal_Number", "Nd" },
		{ "digit", "Nd" }, { "Letter_Number", "Nl" },
		{ "Other_Number", "No" }, { "Punctuation", "P" },
		{ "punct", "P" }, { "Connector_Punctuation", "Pc" },
		{ "Dash_Punctuation", "Pd" }, { "Open_Punctuation", "Ps" },
		{ "Close_Punctuation", "Pe" }, { "Initial_Punctuation", "Pi" },
		{ "Final_Punctuation", "Pf" }, { "Other_Punctuation", "Po" },
		{ "Symbol", "S" }, { "Math_Symbol", "Sm" },
		{ "Currency_Symbol", "Sc" }, { "Modifier_Symbol", "Sk" },
		{ "Other_Symbol", "So" }, { "Separator", "Z" },
		{ "Space_Separator", "Zs" }, { "Line_Separator", "Zl" },
		{ "Paragraph_Separator", "Zp" }, { "Other", "C" },
		{ "Control", "Cc" }, { "cntrl", "Cc" }, { "Format", "Cf" },
		{ "Surrogate", "Cs" }, { "Private_Use", "Co" },
		{ "Unassigned", "Cn" }
	};
	static const char *const prefixes[] = {
		"General_Category=", "gc=", "Script_Extensions=", "scx=",
		"Script=", "sc="
	};
	static const char space[] = "\\s\\u00a0\\u1680\\u2000-\\u200a"
	    "\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff";
	const char	*end = pat + len, *name, *close;
	size_t		 nlen, i, plen;
	int		 in_class = 0;

	while (pat < end) {
		if (*pat == '[' && !in_class) {
			in_class = 1;
			sbuf_addc(out, *pat++);
			if (pat < end && *pat == '^')
				sbuf_addc(out, *pat++);
			continue;
		}
		if (*pat == ']' && in_class) {
			in_class = 0;
			sbuf_addc(out, *pat++);
			continue;
		}
		if (*pat != '\\' || pat + 1 >= end) {
			sbuf_addc(out, *pat++);
			continue;
		}
		if (pat[1] == 's' || (pat[1] == 'S' && !in_class)) {
			if (!in_class)
				sbuf_adds(out, pat[1] == 's' ? "[" : "[^");
			sbuf_adds(out, space);
			if (!in_class)
				sbuf_addc(out, ']');
			pat += 2;
			continue;
		}
		if ((pat[1] != 'p' && pat[1] != 'P') || pat + 2 >= end ||
		    pat[2] != '{' ||
		    (close = memchr(pat + 3, '}', (size_t)(end - pat - 3))) ==
		    NULL) {
			sbuf_add(out, pat, 2);
			pat += 2;
			continue;
		}
		name = pat + 3;
		nlen = (size_t)(close - name);
		for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			plen = strlen(prefixes[i]);
			if (nlen > plen && strncmp(name, prefixes[i], plen) == 0) {
				name += plen;
				nlen -= plen;
				break;
			}
		}
		sbuf_add(out, pat, 3);
		for (i = 0; i < sizeof(gc) / sizeof(gc[0]); i++)
			if (strlen(gc[i][0]) == nlen &&
			    strncmp(name, gc[i][0], nlen) == 0)
				break;
		if (i < sizeof(gc) / sizeof(gc[0]))
			sbuf_adds(out, gc[i][1]);
		else
			sbuf_add(out, name, nlen);
		sbuf_addc(out, '}');
		pat = close + 1;
	}
}

static int
c_regex(struct cctx *cc, const char *pat, size_t len, const char *where,
    struct spattern *out)
{
	struct sbuf	 ecma = { 0 };
	int		 errcode;
	PCRE2_SIZE	 erroff;
	PCRE2_UCHAR	 msg[256];

	if (c_charge(cc, 16 + len) == -1)
		return -1;
	c_regex_ecma(&ecma, pat, len);
	if (ecma.oom || (cc->ccx == NULL &&
	    (cc->ccx = pcre2_compile_context_create(NULL)) == NULL)) {
		free(ecma.p);
		c_err(cc, "out of memory");
		return -1;
	}
	/* a giant pattern fails here, cleanly */
	pcre2_set_max_pattern_length(cc->ccx, SCHEMA_REGEX_MAX_PATTERN);
	if (c_charge(cc, ecma.len) == -1) {
		free(ecma.p);
		return -1;
	}
	out->code = pcre2_compile((PCRE2_SPTR)(ecma.p != NULL ? ecma.p : ""),
	    ecma.len, PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_ALLOW_EMPTY_CLASS |
	    PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF, &errcode, &erroff,
	    cc->ccx);
	free(ecma.p);
	if (out->code == NULL) {
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		c_err(cc, "%s: invalid regular expression at offset %zu: %s",
		    where, (size_t)erroff, (const char *)msg);
		return -1;
	}
	if (c_jit(cc, out->code) == -1)
		return -1;
	if ((out->src = malloc(len + 1)) == NULL) {
		c_err(cc, "out of memory");
		return -1;
	}
	memcpy(out->src, pat, len);
	out->src[len] = '\0';
	return 0;
}

/*
 * Charge the compiled pattern, and JIT-compile it when its code is small:
 * JIT compiling takes 3 us at least and time that grows much faster than
 * the code does ("x*y?" 200 times: 1 KiB of code, 1.8 ms on a small VM),
 * and is charged so. A larger pattern, or one the JIT cannot take, is
 * interpreted.
 */
static int
c_jit(struct cctx *cc, pcre2_code *code)
{
	size_t	 size;

	if (pcre2_pattern_info(code, PCRE2_INFO_SIZE, &size) != 0)
		size = SCHEMA_REGEX_MAX_PATTERN;
	/* compiling took about 5 ns per byte of code */
	if (c_charge(cc, size / 8) == -1)
		return -1;
	if (!cc->jit || size > SCHEMA_REGEX_JIT_MAX)
		return 0;
	if (c_charge(cc, 256 + size + size * size / 64) == -1)
		return -1;
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	return 0;
}

static int
c_string_array(struct cctx *cc, size_t idx, json_object *v, const char *kw,
    char ***out, size_t *np)
{
	size_t		 i, n;
	json_object	*s;

	if (json_object_get_type(v) != json_type_array) {
		c_err(cc, "%s/%s: must be an array of strings",
		    cc->entries[idx].loc, kw);
		return -1;
	}
	n = json_object_array_length(v);
	if ((*out = c_calloc(cc, n + 1, sizeof(**out))) == NULL)
		return -1;
	*np = 0;
	for (i = 0; i < n; i++) {
		s = json_object_array_get_idx(v, i);
		if (json_object_get_type(s) != json_type_string) {
			c_err(cc, "%s/%s/%zu: must be a string",
			    cc->entries[idx].loc, kw, i);
			return -1;
		}
		if (c_charge(cc, 1 + (size_t)json_object_get_string_len(s) /
		    64) == -1)
			return -1;
		if (((*out)[i] = c_strdup(cc, json_object_get_string(s))) ==
		    NULL)
			return -1;
		(*np)++;
	}
	return 0;
}

/* "must be one of [...]" or "must be equal to ...", quoted once. */
static char *
c_quote_values(const struct schema_value *v, size_t n, int is_enum)
{
	struct sbuf	 b = { 0 };
	size_t		 i;

	sbuf_adds(&b, is_enum ? "must be one of " : "must be equal to ");
	if (is_enum)
		sbuf_addc(&b, '[');
	for (i = 0; i < n && b.len <= SCHEMA_QUOTE_MAX; i++) {
		if (i > 0)
			sbuf_addc(&b, ',');
		sv_write(&b, &v[i], SCHEMA_QUOTE_MAX);
	}
	if (b.len > SCHEMA_QUOTE_MAX) {
		preview_cut(&b, SCHEMA_QUOTE_MAX);
		if (is_enum)
			sbuf_adds(&b, " (and more)");
		return sbuf_take(&b);
	}
	if (is_enum)
		sbuf_addc(&b, ']');
	return sbuf_take(&b);
}

static int
prop_cmp(const void *a, const void *b)
{
	const struct sprop	*pa = a, *pb = b;

	return strcmp(pa->name, pb->name);
}

/* Keywords we cannot honour: compiling fails so the caller can skip. */
static int
c_unsupported(struct cctx *cc, size_t idx, json_object *j)
{
	static const char *const kw[] = {
		"unevaluatedProperties", "unevaluatedItems", NULL
	};
	json_object	*v;
	size_t		 i;
	const char	*loc = cc->entries[idx].loc;

	if (cc->entries[idx].draft7)
		return 0;	/* unknown keywords there: annotations */
	for (i = 0; kw[i] != NULL; i++) {
		if (!json_object_object_get_ex(j, kw[i], &v))
			continue;
		/* true and {} never fail anything */
		if (json_object_get_type(v) == json_type_boolean &&
		    json_object_get_boolean(v))
			continue;
		if (json_object_get_type(v) == json_type_object &&
		    json_object_object_length(v) == 0)
			continue;
		c_err(cc, "%s: keyword \"%s\" is not supported",
		    loc[0] == '\0' ? "/" : loc, kw[i]);
		return -1;
	}
	if (json_object_object_get_ex(j, "$dynamicRef", &v) ||
	    json_object_object_get_ex(j, "$recursiveRef", &v)) {
		c_err(cc, "%s: keyword \"%s\" is not supported",
		    loc[0] == '\0' ? "/" : loc,
		    json_object_object_get_ex(j, "$dynamicRef", NULL) ?
		    "$dynamicRef" : "$recursiveRef");
		return -1;
	}
	return 0;
}

static int
c_build_types(struct cctx *cc, size_t idx, struct snode *n, json_object *v)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} names[] = {
		{ "null", T_NULL }, { "boolean", T_BOOLEAN },
		{ "object", T_OBJECT }, { "array", T_ARRAY },
		{ "number", T_NUMBER }, { "string", T_STRING },
		{ "integer", T_INTEGER }
	};
	json_object	*t;
	size_t		 i, k, count;
	const char	*s;

	count = json_object_get_type(v) == json_type_array ?
	    json_object_array_length(v) : 1;
	if (c_charge(cc, count) == -1)
		return -1;
	if (json_object_get_type(v) == json_type_array && count == 0)
		goto fail;
	for (i = 0; i < count; i++) {
		t = json_object_get_type(v) == json_type_array ?
		    json_object_array_get_idx(v, i) : v;
		if (json_object_get_type(t) != json_type_string)
			goto fail;
		s = json_object_get_string(t);
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (strcmp(s, names[k].name) == 0)
				break;
		if (k == sizeof(names) / sizeof(names[0]))
			goto fail;
		n->types |= names[k].bit;
	}
	return 0;
fail:
	c_err(cc, "%s/type: must be a type name (null, boolean, object, "
	    "array, number, string, integer) or an array of them",
	    cc->entries[idx].loc);
	return -1;
}

static int
c_build_deps(struct cctx *cc, size_t idx, struct snode *n, json_object *v,
    const char *kw, int want_req, int want_schema)
{
	struct lh_entry	*e;
	json_object	*dv;
	struct sdep	*d, *nd;
	size_t		 cnt;

	if (json_object_get_type(v) != json_type_object) {
		c_err(cc, "%s/%s: must be an object", cc->entries[idx].loc, kw);
		return -1;
	}
	cnt = n->ndeps + (size_t)json_object_object_length(v);
	if ((nd = realloc(n->deps, (cnt == 0 ? 1 : cnt) * sizeof(*nd))) ==
	    NULL) {
		c_err(cc, "out of memory");
		return -1;
	}
	n->deps = nd;
	for (e = lh_table_head(json_object_get_object(v)); e != NULL;
	    e = lh_entry_next(e)) {
		dv = lh_entry_v(e);
		if (c_charge(cc, 1) == -1)
			return -1;
		d = &n->deps[n->ndeps++];
		memset(d, 0, sizeof(*d));
		if ((d->name = c_strdup(cc, lh_entry_k(e))) == NULL)
			return -1;
		if (want_req && json_object_get_type(dv) == json_type_array) {
			if (c_string_array(cc, idx, dv, kw, &d->req,
			    &d->nreq) == -1)
				return -1;
		} else if (want_schema) {
			if ((d->node = c_child(cc, idx, dv, kw,
			    lh_entry_k(e))) == NULL)
				return -1;
		} else {
			c_err(cc, "%s/%s: must be an array of strings",
			    cc->entries[idx].loc, kw);
			return -1;
		}
	}
	return 0;
}

/*
 * exclusiveMinimum (is_max 0) or exclusiveMaximum (1): a number, or the
 * draft-04 boolean that makes minimum or maximum exclusive.
 */
static int
c_build_exclusive(struct cctx *cc, size_t idx, struct snode *n,
    json_object *v, int is_max)
{
	uint32_t	 bound = is_max ? HAS_MAXIMUM : HAS_MINIMUM;
	uint32_t	 ex = is_max ? HAS_EXMAX : HAS_EXMIN;
	struct snum	*exn = is_max ? &n->exmax : &n->exmin;
	char		**extxt = is_max ? &n->exmax_txt : &n->exmin_txt;
	char		**txt = is_max ? &n->maximum_txt : &n->minimum_txt;

	if (json_object_get_type(v) == json_type_boolean) {
		if (json_object_get_boolean(v) && (n->has & bound)) {
			*exn = is_max ? n->maximum : n->minimum;
			*extxt = *txt;
			*txt = NULL;
			n->has = (n->has & ~bound) | ex;
		}
		return 0;
	}
	if (c_build_number(cc, idx, v, is_max ? "exclusiveMaximum" :
	    "exclusiveMinimum", exn, extxt) == -1)
		return -1;
	n->has |= ex | HAS_NUMBER_KW;
	return 0;
}

static int
c_build_numbers(struct cctx *cc, size_t idx, struct snode *n, json_object *j)
{
	json_object	*v;

	if (json_object_object_get_ex(j, "minimum", &v)) {
		if (c_build_number(cc, idx, v, "minimum", &n->minimum,
		    &n->minimum_txt) == -1)
			return -1;
		n->has |= HAS_MINIMUM | HAS_NUMBER_KW;
	}
	if (json_object_object_get_ex(j, "maximum", &v)) {
		if (c_build_number(cc, idx, v, "maximum", &n->maximum,
		    &n->maximum_txt) == -1)
			return -1;
		n->has |= HAS_MAXIMUM | HAS_NUMBER_KW;
	}
	if (json_object_object_get_ex(j, "exclusiveMinimum", &v) &&
	    c_build_exclusive(cc, idx, n, v, 0) == -1)
		return -1;
	if (json_object_object_get_ex(j, "exclusiveMaximum", &v) &&
	    c_build_exclusive(cc, idx, n, v, 1) == -1)
		return -1;
	if (json_object_object_get_ex(j, "multipleOf", &v)) {
		if (c_build_number(cc, idx, v, "multipleOf", &n->multiple,
		    &n->multiple_txt) == -1)
			return -1;
		if (n->multiple.is_int ? n->multiple.i <= 0 :
		    !(n->multiple.d > 0)) {
			c_err(cc, "%s/multipleOf: must be greater than 0",
			    cc->entries[idx].loc);
			return -1;
		}
		n->has |= HAS_MULTIPLE | HAS_NUMBER_KW;
	}
	return 0;
}

static int
c_build_strings(struct cctx *cc, size_t idx, struct snode *n, json_object *j)
{
	json_object	*v;
	char		*loc;
	int		 rc;

	if (json_object_object_get_ex(j, "minLength", &v)) {
		if (c_count(cc, idx, v, "minLength", &n->min_len) == -1)
			return -1;
		n->has |= HAS_MINLEN | HAS_STRING_KW;
	}
	if (json_object_object_get_ex(j, "maxLength", &v)) {
		if (c_count(cc, idx, v, "maxLength", &n->max_len) == -1)
			return -1;
		n->has |= HAS_MAXLEN | HAS_STRING_KW;
	}
	if (!json_object_object_get_ex(j, "pattern", &v))
		return 0;
	if (json_object_get_type(v) != json_type_string) {
		c_err(cc, "%s/pattern: must be a string", cc->entries[idx].loc);
		return -1;
	}
	if ((loc = c_loc(cc, cc->entries[idx].loc, "pattern")) == NULL)
		return -1;
	rc = c_regex(cc, json_object_get_string(v),
	    (size_t)json_object_get_string_len(v), loc, &n->pattern);
	free(loc);
	if (rc == -1)
		return -1;
	n->has |= HAS_STRING_KW;
	return 0;
}

/* items (both drafts' meanings), prefixItems and additionalItems. */
static int
c_build_items(struct cctx *cc, size_t idx, struct snode *n, json_object *j)
{
	json_object	*v, *v2;

	if (json_object_object_get_ex(j, "items", &v) &&
	    json_object_get_type(v) == json_type_array) {
		/* draft-07 tuple form, whatever the draft */
		if ((n->prefix = c_child_array(cc, idx, v, "items",
		    &n->nprefix)) == NULL)
			return -1;
		if (json_object_object_get_ex(j, "additionalItems", &v2) &&
		    (n->items = c_child(cc, idx, v2, "additionalItems",
		    NULL)) == NULL)
			return -1;
		n->has |= HAS_ARRAY_KW;
		return 0;
	}
	if (!cc->entries[idx].draft7 &&
	    json_object_object_get_ex(j, "prefixItems", &v2)) {
		if ((n->prefix = c_child_array(cc, idx, v2, "prefixItems",
		    &n->nprefix)) == NULL)
			return -1;
		n->has |= HAS_ARRAY_KW;
	}
	if (json_object_object_get_ex(j, "items", &v)) {
		if ((n->items = c_child(cc, idx, v, "items", NULL)) == NULL)
			return -1;
		n->has |= HAS_ARRAY_KW;
	}
	return 0;
}

static int
c_build_arrays(struct cctx *cc, size_t idx, struct snode *n, json_object *j)
{
	json_object	*v, *v2;
	int		 draft7 = cc->entries[idx].draft7;

	if (c_build_items(cc, idx, n, j) == -1)
		return -1;
	if (json_object_object_get_ex(j, "contains", &v)) {
		if ((n->contains = c_child(cc, idx, v, "contains", NULL)) ==
		    NULL)
			return -1;
		n->min_contains = 1;
		n->has |= HAS_ARRAY_KW | HAS_MINCONTAINS;
		if (!draft7 && json_object_object_get_ex(j, "minContains",
		    &v2) && c_count(cc, idx, v2, "minContains",
		    &n->min_contains) == -1)
			return -1;
		if (!draft7 && json_object_object_get_ex(j, "maxContains",
		    &v2)) {
			if (c_count(cc, idx, v2, "maxContains",
			    &n->max_contains) == -1)
				return -1;
			n->has |= HAS_MAXCONTAINS;
		}
	}
	if (json_object_object_get_ex(j, "minItems", &v)) {
		if (c_count(cc, idx, v, "minItems", &n->min_items) == -1)
			return -1;
		n->has |= HAS_MINITEMS | HAS_ARRAY_KW;
	}
	if (json_object_object_get_ex(j, "maxItems", &v)) {
		if (c_count(cc, idx, v, "maxItems", &n->max_items) == -1)
			return -1;
		n->has |= HAS_MAXITEMS | HAS_ARRAY_KW;
	}
	if (json_object_object_get_ex(j, "uniqueItems", &v) &&
	    json_object_get_type(v) == json_type_boolean &&
	    json_object_get_boolean(v))
		n->has |= HAS_UNIQUE | HAS_ARRAY_KW;
	return 0;
}

static int
c_build_props(struct cctx *cc, size_t idx, struct snode *n, json_object *v)
{
	struct lh_entry	*le;
	size_t		 i, cnt;

	if (json_object_get_type(v) != json_type_object) {
		c_err(cc, "%s/properties: must be an object",
		    cc->entries[idx].loc);
		return -1;
	}
	cnt = (size_t)json_object_object_length(v);
	for (i = cnt; i > 0; i /= 2)	/* the sort: cnt log cnt */
		if (c_charge(cc, cnt) == -1)
			return -1;
	if ((n->props = c_calloc(cc, cnt, sizeof(*n->props))) == NULL)
		return -1;
	for (le = lh_table_head(json_object_get_object(v)); le != NULL;
	    le = lh_entry_next(le)) {
		i = n->nprops;
		if ((n->props[i].name = c_strdup(cc, lh_entry_k(le))) == NULL)
			return -1;
		n->nprops++;
		if ((n->props[i].node = c_child(cc, idx, lh_entry_v(le),
		    "properties", lh_entry_k(le))) == NULL)
			return -1;
	}
	qsort(n->props, n->nprops, sizeof(*n->props), prop_cmp);
	n->has |= HAS_OBJECT_KW;
	return 0;
}

static int
c_build_patprops(struct cctx *cc, size_t idx, struct snode *n,
    json_object *v)
{
	struct lh_entry	*le;
	size_t		 i, cnt;
	char		*loc;
	int		 rc;

	if (json_object_get_type(v) != json_type_object) {
		c_err(cc, "%s/patternProperties: must be an object",
		    cc->entries[idx].loc);
		return -1;
	}
	cnt = (size_t)json_object_object_length(v);
	if ((n->patprops = c_calloc(cc, cnt, sizeof(*n->patprops))) == NULL)
		return -1;
	for (le = lh_table_head(json_object_get_object(v)); le != NULL;
	    le = lh_entry_next(le)) {
		i = n->npatprops++;
		if ((loc = c_loc(cc, cc->entries[idx].loc,
		    "patternProperties")) == NULL)
			return -1;
		rc = c_regex(cc, lh_entry_k(le), strlen(lh_entry_k(le)), loc,
		    &n->patprops[i].pat);
		free(loc);
		if (rc == -1)
			return -1;
		if ((n->patprops[i].node = c_child(cc, idx, lh_entry_v(le),
		    "patternProperties", lh_entry_k(le))) == NULL)
			return -1;
	}
	n->has |= HAS_OBJECT_KW;
	return 0;
}

/* required, minProperties, maxProperties and the dependency keywords. */
static int
c_build_object_counts(struct cctx *cc, size_t idx, struct snode *n,
    json_object *j)
{
	json_object	*v;
	int		 draft7 = cc->entries[idx].draft7;

	/* draft-03's boolean "required" is not ours to enforce */
	if (json_object_object_get_ex(j, "required", &v) &&
	    json_object_get_type(v) != json_type_boolean) {
		if (c_string_array(cc, idx, v, "required", &n->required,
		    &n->nrequired) == -1)
			return -1;
		if (n->nrequired > 0)
			n->has |= HAS_OBJECT_KW;
	}
	if (json_object_object_get_ex(j, "minProperties", &v)) {
		if (c_count(cc, idx, v, "minProperties", &n->min_props) == -1)
			return -1;
		n->has |= HAS_MINPROPS | HAS_OBJECT_KW;
	}
	if (json_object_object_get_ex(j, "maxProperties", &v)) {
		if (c_count(cc, idx, v, "maxProperties", &n->max_props) == -1)
			return -1;
		n->has |= HAS_MAXPROPS | HAS_OBJECT_KW;
	}
	if (json_object_object_get_ex(j, "dependencies", &v)) {
		if (c_build_deps(cc, idx, n, v, "dependencies", 1, 1) == -1)
			return -1;
		n->has |= HAS_OBJECT_KW;
	}
	if (!draft7 && json_object_object_get_ex(j, "dependentRequired", &v)) {
		if (c_build_deps(cc, idx, n, v, "dependentRequired", 1,
		    0) == -1)
			return -1;
		n->has |= HAS_OBJECT_KW;
	}
	if (!draft7 && json_object_object_get_ex(j, "dependentSchemas", &v)) {
		if (c_build_deps(cc, idx, n, v, "dependentSchemas", 0, 1) == -1)
			return -1;
		n->has |= HAS_OBJECT_KW;
	}
	return 0;
}

static int
c_build_objects(struct cctx *cc, size_t idx, struct snode *n, json_object *j)
{
	json_object	*v;

	if (json_object_object_get_ex(j, "properties", &v) &&
	    c_build_props(cc, idx, n, v) == -1)
		return -1;
	if (json_object_object_get_ex(j, "patternProperties", &v) &&
	    c_build_patprops(cc, idx, n, v) == -1)
		return -1;
	if (json_object_object_get_ex(j, "additionalProperties", &v)) {
		if ((n->additional = c_child(cc, idx, v, "additionalProperties",
		    NULL)) == NULL)
			return -1;
		n->has |= HAS_OBJECT_KW;
	}
	if (json_object_object_get_ex(j, "propertyNames", &v)) {
		if ((n->property_names = c_child(cc, idx, v, "propertyNames",
		    NULL)) == NULL)
			return -1;
		n->has |= HAS_OBJECT_KW;
	}
	return c_build_object_counts(cc, idx, n, j);
}

/* enum and const, for any type. */
static int
c_build_values(struct cctx *cc, size_t idx, struct snode *n, json_object *j)
{
	json_object	*v;
	size_t		 i, cnt;

	if (json_object_object_get_ex(j, "enum", &v)) {
		if (json_object_get_type(v) != json_type_array) {
			c_err(cc, "%s/enum: must be an array",
			    cc->entries[idx].loc);
			return -1;
		}
		cnt = json_object_array_length(v);
		if ((n->enums = c_calloc(cc, cnt, sizeof(*n->enums))) == NULL)
			return -1;
		for (i = 0; i < cnt; i++) {
			n->nenums++;
			if (sv_from_json(&n->enums[i],
			    json_object_array_get_idx(v, i), 0, cc) == -1) {
				c_err(cc, "%s/enum: cannot copy value %zu",
				    cc->entries[idx].loc, i);
				return -1;
			}
		}
		if ((n->enum_msg = c_quote_values(n->enums, n->nenums, 1)) ==
		    NULL) {
			c_err(cc, "out of memory");
			return -1;
		}
		n->has |= HAS_ENUM;
	}
	if (!json_object_object_get_ex(j, "const", &v))
		return 0;
	if (sv_from_json(&n->const_val, v, 0, cc) == -1) {
		c_err(cc, "%s/const: cannot copy value", cc->entries[idx].loc);
		return -1;
	}
	if ((n->const_msg = c_quote_values(&n->const_val, 1, 0)) == NULL) {
		c_err(cc, "out of memory");
		return -1;
	}
	n->has |= HAS_CONST;
	return 0;
}

static int
c_build_applicators(struct cctx *cc, size_t idx, struct snode *n,
    json_object *j)
{
	json_object	*v, *v2;

	if (json_object_object_get_ex(j, "allOf", &v)) {
		if ((n->all_of = c_child_array(cc, idx, v, "allOf",
		    &n->nall_of)) == NULL)
			return -1;
		n->has |= HAS_APPLICATOR;
	}
	if (json_object_object_get_ex(j, "anyOf", &v)) {
		if ((n->any_of = c_child_array(cc, idx, v, "anyOf",
		    &n->nany_of)) == NULL)
			return -1;
		n->has |= HAS_APPLICATOR;
	}
	if (json_object_object_get_ex(j, "oneOf", &v)) {
		if ((n->one_of = c_child_array(cc, idx, v, "oneOf",
		    &n->none_of)) == NULL)
			return -1;
		n->has |= HAS_APPLICATOR;
	}
	if (json_object_object_get_ex(j, "not", &v)) {
		if ((n->not_ = c_child(cc, idx, v, "not", NULL)) == NULL)
			return -1;
		n->has |= HAS_APPLICATOR;
	}
	if (!json_object_object_get_ex(j, "if", &v))
		return 0;
	if ((n->if_ = c_child(cc, idx, v, "if", NULL)) == NULL)
		return -1;
	if (json_object_object_get_ex(j, "then", &v2) &&
	    (n->then_ = c_child(cc, idx, v2, "then", NULL)) == NULL)
		return -1;
	if (json_object_object_get_ex(j, "else", &v2) &&
	    (n->else_ = c_child(cc, idx, v2, "else", NULL)) == NULL)
		return -1;
	if (n->then_ != NULL || n->else_ != NULL)
		n->has |= HAS_APPLICATOR;
	return 0;
}

/* Fill the node of entry idx from its JSON. */
static int
c_build(struct cctx *cc, size_t idx)
{
	struct snode	*n = cc->entries[idx].node;
	json_object	*j = cc->entries[idx].j, *v;

	if (json_object_get_type(j) == json_type_boolean) {
		n->kind = json_object_get_boolean(j) ? SN_TRUE : SN_FALSE;
		return 0;
	}
	n->kind = SN_SCHEMA;
	if (c_charge(cc, 2 + 2 * (unsigned long)json_object_object_length(j)) ==
	    -1 || c_unsupported(cc, idx, j) == -1)
		return -1;
	if (json_object_object_get_ex(j, "$ref", &v)) {
		if (json_object_get_type(v) != json_type_string) {
			c_err(cc, "%s/$ref: must be a string",
			    cc->entries[idx].loc);
			return -1;
		}
		if ((n->ref = c_resolve_ref(cc, idx,
		    json_object_get_string(v))) == NULL)
			return -1;
		if (cc->entries[idx].draft7)
			return 0;	/* siblings of $ref are ignored */
	}
	if (json_object_object_get_ex(j, "type", &v) &&
	    c_build_types(cc, idx, n, v) == -1)
		return -1;
	if (c_build_numbers(cc, idx, n, j) == -1 ||
	    c_build_strings(cc, idx, n, j) == -1 ||
	    c_build_arrays(cc, idx, n, j) == -1 ||
	    c_build_objects(cc, idx, n, j) == -1 ||
	    c_build_values(cc, idx, n, j) == -1 ||
	    c_build_applicators(cc, idx, n, j) == -1)
		return -1;
	return 0;
}

/* The root's required and optional property names, in document order. */
static int
c_root_lists(struct cctx *cc)
{
	json_object	*j = cc->entries[0].j, *props = NULL, *req = NULL, *v;
	struct lh_entry	*e;
	struct snode	*n = cc->entries[0].node;
	size_t		 i, k, nreq = 0, nopt = 0, hops;

	/* follow a root that is only a $ref to the real object schema */
	for (hops = 0; hops < 16 && n != NULL && n->ref != NULL &&
	    n->nprops == 0 && n->nrequired == 0; hops++) {
		if (c_charge(cc, 1 + cc->nentries / 16) == -1)
			return -1;
		n = n->ref;
		for (i = 0; i < cc->nentries; i++)
			if (cc->entries[i].node == n)
				break;
		if (i == cc->nentries)
			break;
		j = cc->entries[i].j;
	}
	if (json_object_get_type(j) == json_type_object) {
		json_object_object_get_ex(j, "properties", &props);
		json_object_object_get_ex(j, "required", &req);
		if (json_object_get_type(props) != json_type_object)
			props = NULL;
		if (json_object_get_type(req) != json_type_array)
			req = NULL;
	}
	if (req != NULL)
		nreq = json_object_array_length(req);
	if (props != NULL)
		nopt = (size_t)json_object_object_length(props);
	/* each property is looked for among the required names */
	if (c_charge(cc, nreq + nopt + nopt / 16 * nreq) == -1)
		return -1;
	if ((cc->s->required = c_calloc(cc, nreq + 1, sizeof(char *))) == NULL ||
	    (cc->s->optional = c_calloc(cc, nopt + 1, sizeof(char *))) == NULL)
		return -1;
	for (i = 0, k = 0; i < nreq; i++) {
		v = json_object_array_get_idx(req, i);
		if (json_object_get_type(v) != json_type_string)
			continue;
		if ((cc->s->required[k++] = c_strdup(cc,
		    json_object_get_string(v))) == NULL)
			return -1;
	}
	if (props == NULL)
		return 0;
	k = 0;
	for (e = lh_table_head(json_object_get_object(props)); e != NULL;
	    e = lh_entry_next(e)) {
		for (i = 0; cc->s->required[i] != NULL; i++)
			if (strcmp(cc->s->required[i], lh_entry_k(e)) == 0)
				break;
		if (cc->s->required[i] != NULL)
			continue;
		if ((cc->s->optional[k++] = c_strdup(cc, lh_entry_k(e))) ==
		    NULL)
			return -1;
	}
	return 0;
}

static void
c_free(struct cctx *cc)
{
	size_t	 i;

	for (i = 0; i < cc->nentries; i++) {
		free(cc->entries[i].base);
		free(cc->entries[i].loc);
	}
	for (i = 0; i < cc->nres; i++) {
		free(cc->res[i].uri);
		free(cc->res[i].base);
	}
	for (i = 0; i < cc->nanchors; i++) {
		free(cc->anchors[i].uri);
		free(cc->anchors[i].name);
	}
	free(cc->entries);
	free(cc->map);
	free(cc->res);
	free(cc->anchors);
	free(cc->work);
	pcre2_compile_context_free(cc->ccx);
}

static void
node_free(struct snode *n)
{
	size_t	 i, k;

	free(n->minimum_txt);
	free(n->maximum_txt);
	free(n->exmin_txt);
	free(n->exmax_txt);
	free(n->multiple_txt);
	pcre2_code_free(n->pattern.code);
	free(n->pattern.src);
	free(n->prefix);
	for (i = 0; i < n->nprops; i++)
		free(n->props[i].name);
	free(n->props);
	for (i = 0; i < n->npatprops; i++) {
		pcre2_code_free(n->patprops[i].pat.code);
		free(n->patprops[i].pat.src);
	}
	free(n->patprops);
	for (i = 0; i < n->nrequired; i++)
		free(n->required[i]);
	free(n->required);
	for (i = 0; i < n->ndeps; i++) {
		free(n->deps[i].name);
		for (k = 0; k < n->deps[i].nreq; k++)
			free(n->deps[i].req[k]);
		free(n->deps[i].req);
	}
	free(n->deps);
	for (i = 0; i < n->nenums; i++)
		sv_free(&n->enums[i]);
	free(n->enums);
	free(n->enum_msg);
	sv_free(&n->const_val);
	free(n->const_msg);
	free(n->all_of);
	free(n->any_of);
	free(n->one_of);
	free(n);
}

static struct schema *
c_compile(json_object *root, enum schema_draft draft, unsigned long *budget,
    char *err, size_t errlen)
{
	struct cctx	 cc;
	size_t		 w;

	memset(&cc, 0, sizeof(cc));
	cc.err = err;
	cc.errlen = errlen;
	cc.jit = atomic_load(&use_jit);
	cc.budget = budget;
	if (c_charge(&cc, 64) == -1)
		return NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (json_object_get_type(root) != json_type_object &&
	    json_object_get_type(root) != json_type_boolean) {
		c_err(&cc, "schema must be an object or a boolean");
		return NULL;
	}
	if ((cc.s = c_calloc(&cc, 1, sizeof(*cc.s))) == NULL)
		return NULL;
	if (c_add_resource(&cc, "", root, "", draft == SCHEMA_DRAFT_07) == -1 ||
	    c_scan(&cc, root, "", draft == SCHEMA_DRAFT_07, "", 0) == -1)
		goto fail;
	/* the root resource takes its $schema draft from the scan */
	cc.res[0].draft7 = cc.entries[0].draft7;
	if ((cc.s->root = c_node(&cc, 0)) == NULL)
		goto fail;
	for (w = 0; w < cc.nwork; w++)
		if (c_build(&cc, cc.work[w]) == -1)
			goto fail;
	if (c_root_lists(&cc) == -1)
		goto fail;
	c_free(&cc);
	return cc.s;
fail:
	if (!cc.failed)
		c_err(&cc, "cannot compile schema");
	c_free(&cc);
	schema_free(cc.s);
	return NULL;
}

struct schema *
schema_compile_draft(json_object *root, enum schema_draft draft, char *err,
    size_t errlen)
{
	unsigned long	 budget = SCHEMA_DEFAULT_COMPILE_BUDGET;

	return c_compile(root, draft, &budget, err, errlen);
}

struct schema *
schema_compile(json_object *root, char *err, size_t errlen)
{
	return schema_compile_draft(root, SCHEMA_DRAFT_AUTO, err, errlen);
}

struct schema *
schema_compile_budget(json_object *root, unsigned long *budget, char *err,
    size_t errlen)
{
	return c_compile(root, SCHEMA_DRAFT_AUTO, budget, err, errlen);
}

void
schema_free(struct schema *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nnodes; i++)
		node_free(s->nodes[i]);
	free(s->nodes);
	for (i = 0; s->required != NULL && s->required[i] != NULL; i++)
		free(s->required[i]);
	free(s->required);
	for (i = 0; s->optional != NULL && s->optional[i] != NULL; i++)
		free(s->optional[i]);
	free(s->optional);
	free(s);
}

int
schema_set_jit(int enable)
{
	return atomic_exchange(&use_jit, enable ? 1 : 0);
}

const char *const *
schema_required(const struct schema *s)
{
	return (const char *const *)s->required;
}

const char *const *
schema_optional(const struct schema *s)
{
	return (const char *const *)s->optional;
}

/* ------------------------------------------------------------ validate */

static void
v_thread_clear(struct vthread *t)
{
	pcre2_match_data_free(t->md);
	pcre2_match_context_free(t->mc);
	pcre2_jit_stack_free(t->js);
	memset(t, 0, sizeof(*t));
}

static void
v_thread_free(void *p)
{
	v_thread_clear(p);
	free(p);
}

static void
v_thread_key_init(void)
{
	thread_key_ok = pthread_key_create(&thread_key, v_thread_free) == 0;
}

/*
 * Match data (one pair is enough: we only ask whether there is a match),
 * a match context with the heap limit, and a JIT stack of as much memory.
 */
static int
v_thread_init(struct vthread *t)
{
	memset(t, 0, sizeof(*t));
	if ((t->md = pcre2_match_data_create(1, NULL)) == NULL ||
	    (t->mc = pcre2_match_context_create(NULL)) == NULL)
		return -1;
	pcre2_set_heap_limit(t->mc, SCHEMA_REGEX_HEAP_KIB);
	/* without a JIT (stack), matches are interpreted or use 32 KiB */
	if ((t->js = pcre2_jit_stack_create(32 * 1024,
	    SCHEMA_REGEX_HEAP_KIB * 1024, NULL)) != NULL)
		pcre2_jit_stack_assign(t->mc, NULL, t->js);
	return 0;
}

/* This thread's PCRE2 state, kept from one match to the next. */
static struct vthread *
v_thread(void)
{
	struct vthread	*t;

	pthread_once(&thread_once, v_thread_key_init);
	if (!thread_key_ok)
		return NULL;
	if ((t = pthread_getspecific(thread_key)) != NULL)
		return t;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if (v_thread_init(t) == -1 ||
	    pthread_setspecific(thread_key, t) != 0) {
		v_thread_free(t);
		return NULL;
	}
	return t;
}

/* A pattern match ran out of a limit: too costly. 0 for other errors. */
static int
v_match_costly(struct vctx *c, int rc)
{
	switch (rc) {
	case PCRE2_ERROR_MATCHLIMIT:
		v_costly(c, SCHEMA_COSTLY_PATTERN, "a pattern needed more "
		    "than %lu backtracking steps", c->match_limit);
		return 1;
	case PCRE2_ERROR_DEPTHLIMIT:
		v_costly(c, SCHEMA_COSTLY_PATTERN, "a pattern needed more "
		    "than %lu nested backtracking steps", c->match_limit);
		return 1;
	case PCRE2_ERROR_HEAPLIMIT:
	case PCRE2_ERROR_JIT_STACKLIMIT:
		v_costly(c, SCHEMA_COSTLY_PATTERN, "a pattern needed more "
		    "than %d KiB of memory", SCHEMA_REGEX_HEAP_KIB);
		return 1;
	default:
		return 0;
	}
}

/*
 * 1 match, 0 no match, -1 could not run or too costly (then c->aborted).
 * A match costs SCHEMA_MATCH_STEPS and a step per 16 bytes of the subject
 * (a JIT scans 64 bytes in 55 ns, the interpreter in 160 ns on a small
 * VM), and the clock is looked at after every match. Its match limit is
 * the budget's, and so is its depth limit (the heap limit is what bounds
 * its memory).
 */
static int
v_match(struct vctx *c, const struct spattern *p, const char *s, size_t len)
{
	struct vthread	*t, own;
	uint32_t	 limit;
	int		 rc;

	if (!v_charge(c, SCHEMA_MATCH_STEPS + len / 16))
		return -1;
	if ((t = v_thread()) == NULL) {
		t = &own;
		if (v_thread_init(&own) == -1) {
			v_thread_clear(&own);
			return -1;
		}
	}
	if (c->clock.state == VCLOCK_IDLE)
		v_clock_start(c);
	limit = c->match_limit > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)c->match_limit;
	pcre2_set_match_limit(t->mc, limit);
	pcre2_set_depth_limit(t->mc, limit);
	rc = pcre2_match(p->code, (PCRE2_SPTR)s, len, 0, 0, t->md, t->mc);
	if (t == &own)
		v_thread_clear(&own);
	if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && v_match_costly(c, rc))
		return -1;
	if (!v_check(c))
		return -1;
	if (rc >= 0)
		return 1;
	return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

static char *
v_path(const struct vctx *c)
{
	struct sbuf	 b = { 0 };
	char		 idx[32];
	size_t		 i;

	for (i = 0; i < c->npath; i++) {
		if (c->path[i].key != NULL)
			sbuf_pointer_token(&b, c->path[i].key);
		else {
			snprintf(idx, sizeof(idx), "/%zu", c->path[i].idx);
			sbuf_adds(&b, idx);
		}
	}
	return sbuf_take(&b);
}

static void
v_error(struct vctx *c, const char *fmt, ...)
{
	struct schema_result	*r = c->res;
	struct sbuf		 b = { 0 };
	va_list			 ap;

	if (r == NULL || r->truncated || c->aborted)
		return;
	if (r->nerrors >= SCHEMA_MAX_ERRORS) {
		r->truncated = 1;
		return;
	}
	if (!v_charge(c, SCHEMA_ERROR_STEPS))
		return;
	if (c->name != NULL) {
		sbuf_adds(&b, "property name ");
		sbuf_json_string(&b, c->name, strlen(c->name));
		preview_cut(&b, SCHEMA_PREVIEW_MAX + 16);
		sbuf_adds(&b, ": ");
	}
	va_start(ap, fmt);
	sbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	result_add(r, v_path(c), sbuf_take(&b));
}

/* Append one error, taking path and msg (freed if there is no room). */
static void
result_add(struct schema_result *r, char *path, char *msg)
{
	struct schema_error	*ne;
	size_t			 ncap;

	if (path == NULL || msg == NULL || r->truncated ||
	    r->nerrors >= SCHEMA_MAX_ERRORS)
		goto fail;
	if (r->nerrors == r->cap) {
		ncap = r->cap == 0 ? 4 : r->cap * 2;
		if ((ne = realloc(r->errors, ncap * sizeof(*ne))) == NULL)
			goto fail;
		r->errors = ne;
		r->cap = ncap;
	}
	r->errors[r->nerrors].path = path;
	r->errors[r->nerrors].message = msg;
	r->nerrors++;
	return;
fail:
	r->truncated = 1;
	free(path);
	free(msg);
}

/*
 * A limit was hit (depth, cost, a $ref cycle): the instance is invalid
 * whatever the quiet evaluations around this point conclude, so every
 * evaluation stops and schema_validate() reports this one error.
 */
static void
v_abort(struct vctx *c, const char *fmt, ...)
{
	va_list	 ap;

	if (c->aborted)
		return;
	c->aborted = 1;
	c->next_check = 0;	/* every v_charge() from now on fails */
	c->abort_path = v_path(c);
	va_start(ap, fmt);
	vsnprintf(c->abort_msg, sizeof(c->abort_msg), fmt, ap);
	va_end(ap);
}

/* "string \"3\"", "number 2.5", "object {\"a\":1}": for "got ..." */
static void
v_describe(json_object *j, char *buf, size_t size)
{
	struct sbuf	 b = { 0 };
	const char	*kind;

	switch (json_object_get_type(j)) {
	case json_type_null:
		snprintf(buf, size, "null");
		return;
	case json_type_boolean:
		kind = "boolean";
		break;
	case json_type_int:
	case json_type_double:
		kind = "number";
		break;
	case json_type_string:
		kind = "string";
		break;
	case json_type_array:
		kind = "array";
		break;
	default:
		kind = "object";
		break;
	}
	json_preview(&b, j, SCHEMA_PREVIEW_MAX, 0);
	preview_cut(&b, SCHEMA_PREVIEW_MAX);
	snprintf(buf, size, "%s %s", kind, b.p != NULL && !b.oom ? b.p : "");
	free(b.p);
}

static void
v_types(unsigned types, char *buf, size_t size)
{
	static const char *const names[] = {
		"null", "boolean", "object", "array", "number", "string",
		"integer"
	};
	size_t	 i, len = 0, n = 0, total = 0;

	if ((types & T_NUMBER) && (types & T_INTEGER))
		types &= ~(unsigned)T_INTEGER;
	for (i = 0; i < 7; i++)
		if (types & (1u << i))
			total++;
	buf[0] = '\0';
	for (i = 0; i < 7; i++) {
		if (!(types & (1u << i)))
			continue;
		n++;
		snprintf(buf + len, size - len, "%s%s",
		    n == 1 ? "" : n == total ? " or " : ", ", names[i]);
		len = strlen(buf);
	}
}

static int
v_push_key(struct vctx *c, const char *key)
{
	if (c->npath >= SCHEMA_MAX_INSTANCE_DEPTH) {
		v_abort(c, "instance nested too deeply (more than %d levels)",
		    SCHEMA_MAX_INSTANCE_DEPTH);
		return -1;
	}
	c->path[c->npath].key = key;
	c->path[c->npath].idx = 0;
	c->npath++;
	return 0;
}

static int
v_push_index(struct vctx *c, size_t idx)
{
	if (c->npath >= SCHEMA_MAX_INSTANCE_DEPTH) {
		v_abort(c, "instance nested too deeply (more than %d levels)",
		    SCHEMA_MAX_INSTANCE_DEPTH);
		return -1;
	}
	c->path[c->npath].key = NULL;
	c->path[c->npath].idx = idx;
	c->npath++;
	return 0;
}

/* n against j without reporting: just yes or no. */
static int
v_quiet(struct vctx *c, const struct snode *n, json_object *j)
{
	struct schema_result	*saved = c->res;
	const char		*name = c->name;
	int			 ok;

	c->res = NULL;
	ok = v_node(c, n, j);
	c->res = saved;
	c->name = name;
	return ok;
}

static int
v_number(struct vctx *c, const struct snode *n, json_object *j)
{
	struct snum	 x;
	double		 q, r, tol;
	int		 ok = 1, mult;

	json_num(j, &x);
	if ((n->has & HAS_MINIMUM) && snum_cmp(&x, &n->minimum) < 0) {
		v_error(c, "must be >= %s", n->minimum_txt);
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	if ((n->has & HAS_MAXIMUM) && snum_cmp(&x, &n->maximum) > 0) {
		v_error(c, "must be <= %s", n->maximum_txt);
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	if ((n->has & HAS_EXMIN) && snum_cmp(&x, &n->exmin) <= 0) {
		v_error(c, "must be > %s", n->exmin_txt);
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	if ((n->has & HAS_EXMAX) && snum_cmp(&x, &n->exmax) >= 0) {
		v_error(c, "must be < %s", n->exmax_txt);
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	if (n->has & HAS_MULTIPLE) {
		if (x.is_int && n->multiple.is_int)
			mult = x.i % n->multiple.i == 0;
		else {
			q = x.d / n->multiple.d;
			if (isfinite(q)) {
				/* tolerate the rounding of the division */
				r = dbl_abs(q - dbl_round(q));
				tol = dbl_abs(q) * 4 * DBL_EPSILON;
				mult = r <= (tol > 1e-9 ? tol : 1e-9);
			} else {
				/*
				 * x is huge, so integral: it is a multiple of
				 * m when 1/m is an integer.
				 */
				q = 1.0 / n->multiple.d;
				mult = dbl_is_integral(x.d) &&
				    dbl_is_integral(q) && q * n->multiple.d == 1;
			}
		}
		if (!mult) {
			v_error(c, "must be a multiple of %s", n->multiple_txt);
			ok = 0;
		}
	}
	return ok;
}

static int
v_string(struct vctx *c, const struct snode *n, const char *s, size_t len)
{
	size_t		 cp;
	int		 ok = 1, m;

	if (n->has & (HAS_MINLEN | HAS_MAXLEN)) {
		if (!v_charge(c, len / 64))
			return 0;
		cp = utf8_length(s, len);
		if ((n->has & HAS_MINLEN) && cp < n->min_len) {
			v_error(c, "must be at least %zu character%s long "
			    "(got %zu)", n->min_len, n->min_len == 1 ? "" : "s",
			    cp);
			ok = 0;
			if (V_STOP(c))
				return 0;
		}
		if ((n->has & HAS_MAXLEN) && cp > n->max_len) {
			v_error(c, "must be at most %zu character%s long "
			    "(got %zu)", n->max_len, n->max_len == 1 ? "" : "s",
			    cp);
			ok = 0;
			if (V_STOP(c))
				return 0;
		}
	}
	if (n->pattern.code != NULL &&
	    (m = v_match(c, &n->pattern, s, len)) != 1) {
		if (m == 0)
			v_error(c, "must match pattern \"%s\"", n->pattern.src);
		else
			v_error(c, "could not be matched against pattern "
			    "\"%s\"", n->pattern.src);
		ok = 0;
	}
	return ok;
}

/* items and prefixItems. */
static int
v_items(struct vctx *c, const struct snode *n, json_object *j, size_t len)
{
	const struct snode	*sub;
	size_t			 i;
	int			 ok = 1;

	for (i = 0; i < len; i++) {
		sub = i < n->nprefix ? n->prefix[i] : n->items;
		if (sub == NULL || (sub->kind == SN_TRUE && i >= n->nprefix))
			break;
		if (sub->kind == SN_TRUE)
			continue;
		if (v_push_index(c, i) == -1)
			return 0;
		if (!v_node(c, sub, json_object_array_get_idx(j, i)))
			ok = 0;
		c->npath--;
		if (!ok && V_STOP(c))
			return 0;
	}
	return ok;
}

/* contains, minContains, maxContains. */
static int
v_contains(struct vctx *c, const struct snode *n, json_object *j,
    size_t len)
{
	size_t	 i, found = 0;
	int	 ok = 1;

	for (i = 0; i < len; i++) {
		if (v_push_index(c, i) == -1)
			return 0;
		if (v_quiet(c, n->contains, json_object_array_get_idx(j, i)))
			found++;
		c->npath--;
		if (c->aborted)
			return 0;
		if (found >= n->min_contains && !(n->has & HAS_MAXCONTAINS))
			break;
	}
	if (found < n->min_contains) {
		v_error(c, "must contain at least %zu item%s matching the "
		    "\"contains\" schema (found %zu)", n->min_contains,
		    n->min_contains == 1 ? "" : "s", found);
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	if ((n->has & HAS_MAXCONTAINS) && found > n->max_contains) {
		v_error(c, "must contain at most %zu item%s matching the "
		    "\"contains\" schema (found %zu)", n->max_contains,
		    n->max_contains == 1 ? "" : "s", found);
		ok = 0;
	}
	return ok;
}

/* Items a and b of j are equal: 1 or 0, charged per node; -1 too costly. */
static int
v_item_eq(struct vctx *c, json_object *j, size_t a, size_t b)
{
	unsigned long	 work = 0;
	int		 eq;

	eq = json_eq(json_object_array_get_idx(j, a),
	    json_object_array_get_idx(j, b), 0, &work);
	return v_charge(c, work) ? eq : -1;
}

/* uniqueItems over a few items: every pair. */
static int
v_unique_pairs(struct vctx *c, json_object *j, size_t len)
{
	size_t	 i, k;
	int	 eq;

	for (i = 1; i < len; i++)
		for (k = 0; k < i; k++) {
			if ((eq = v_item_eq(c, j, k, i)) == -1)
				return 0;
			if (eq) {
				v_error(c, "items must be unique (items %zu "
				    "and %zu are equal)", k, i);
				return 0;
			}
		}
	return 1;
}

/*
 * *k: the first item before item i that equals it, or SIZE_MAX (then item
 * i goes into the table). The items before i are all different, so the
 * table holds at most one equal to it; wild items (with a NaN) may be
 * equal to anything, and are compared one by one. -1 when too costly.
 */
static int
v_unique_find(struct vctx *c, struct utable *t, json_object *j, size_t i,
    uint64_t h, int wild, size_t *k)
{
	size_t	 p, m, probes = 0;
	int	 eq;

	*k = SIZE_MAX;
	for (m = 0; wild && m < i; m++)
		if ((eq = v_item_eq(c, j, m, i)) != 0) {
			*k = m;
			return eq == -1 ? -1 : 0;
		}
	if (wild)
		return 0;
	for (p = (size_t)h & t->mask; t->slots[p].idx1 != 0 && *k == SIZE_MAX;
	    p = (p + 1) & t->mask) {
		probes++;
		if (t->slots[p].tag == (uint32_t)(h >> 32) &&
		    (eq = v_item_eq(c, j, t->slots[p].idx1 - 1, i)) != 0) {
			if (eq == -1)
				return -1;
			*k = t->slots[p].idx1 - 1;
		}
	}
	if (!v_charge(c, probes))
		return -1;
	for (m = 0; m < t->nwild && t->wild[m] < *k; m++)
		if ((eq = v_item_eq(c, j, t->wild[m], i)) != 0) {
			*k = t->wild[m];
			return eq == -1 ? -1 : 0;
		}
	if (*k == SIZE_MAX) {
		t->slots[p].tag = (uint32_t)(h >> 32);
		t->slots[p].idx1 = (uint32_t)(i + 1);
	}
	return 0;
}

/*
 * uniqueItems in expected linear time: each item is hashed (a step per
 * item and per node) and looked up in an open-addressing table of the
 * items before it; json_eq() runs only when hashes collide.
 */
static int
v_unique(struct vctx *c, json_object *j, size_t len)
{
	struct utable	 t;
	unsigned long	 work;
	uint64_t	 h;
	size_t		 i, k, cap;
	int		 wild, ok = 0;

	if (len <= SCHEMA_UNIQUE_PAIRS)
		return v_unique_pairs(c, j, len);
	/* a step per item, before the table is allocated */
	if (!v_charge(c, len))
		return 0;
	if (len >= UINT32_MAX / 2)
		return v_unique_pairs(c, j, len);	/* steps stop it */
	memset(&t, 0, sizeof(t));
	for (cap = 64; cap < len + len / 2; cap *= 2)
		;
	t.mask = cap - 1;
	if ((t.slots = calloc(cap, sizeof(*t.slots))) == NULL)
		goto oom;
	for (i = 0; i < len; i++) {
		work = 0;
		wild = json_hash(json_object_array_get_idx(j, i), 0, &h, &work);
		if (!v_charge(c, work) ||
		    v_unique_find(c, &t, j, i, h, wild, &k) == -1)
			goto done;
		if (k != SIZE_MAX) {
			v_error(c, "items must be unique (items %zu and %zu "
			    "are equal)", k, i);
			goto done;
		}
		if (wild && t.wild == NULL &&
		    (t.wild = calloc(len, sizeof(*t.wild))) == NULL)
			goto oom;
		if (wild)
			t.wild[t.nwild++] = i;
	}
	ok = 1;
	goto done;
oom:
	v_error(c, "out of memory");
done:
	free(t.slots);
	free(t.wild);
	return ok;
}

static int
v_array(struct vctx *c, const struct snode *n, json_object *j)
{
	size_t		 len = json_object_array_length(j);
	int		 ok = 1;

	if ((n->has & HAS_MINITEMS) && len < n->min_items) {
		v_error(c, "must have at least %zu item%s (got %zu)",
		    n->min_items, n->min_items == 1 ? "" : "s", len);
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	if ((n->has & HAS_MAXITEMS) && len > n->max_items) {
		v_error(c, "must have at most %zu item%s (got %zu)",
		    n->max_items, n->max_items == 1 ? "" : "s", len);
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	if ((n->prefix != NULL || n->items != NULL) &&
	    !v_items(c, n, j, len)) {
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	if (n->contains != NULL && !v_contains(c, n, j, len)) {
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	if ((n->has & HAS_UNIQUE) && !v_unique(c, j, len))
		ok = 0;
	return ok;
}

/* minProperties, maxProperties and required. */
static int
v_object_counts(struct vctx *c, const struct snode *n, json_object *j)
{
	size_t	 i, count = (size_t)json_object_object_length(j);
	int	 ok = 1;

	if (!v_charge(c, n->nrequired))
		return 0;
	if ((n->has & HAS_MINPROPS) && count < n->min_props) {
		v_error(c, "must have at least %zu propert%s (got %zu)",
		    n->min_props, n->min_props == 1 ? "y" : "ies", count);
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	if ((n->has & HAS_MAXPROPS) && count > n->max_props) {
		v_error(c, "must have at most %zu propert%s (got %zu)",
		    n->max_props, n->max_props == 1 ? "y" : "ies", count);
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	for (i = 0; i < n->nrequired; i++) {
		if (json_object_object_get_ex(j, n->required[i], NULL))
			continue;
		v_error(c, "missing required property \"%s\"", n->required[i]);
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	return ok;
}

/* The value v of property k against sub, with k on the path. */
static int
v_member(struct vctx *c, const struct snode *sub, const char *k,
    json_object *v)
{
	int	 ok;

	if (v_push_key(c, k) == -1)
		return 0;
	ok = v_node(c, sub, v);
	c->npath--;
	return ok;
}

static void
v_unexpected(struct vctx *c, const char *k)
{
	struct sbuf	 qb = { 0 };

	if (V_STOP(c))
		return;		/* no message is wanted */
	sbuf_json_string(&qb, k, strlen(k));
	preview_cut(&qb, SCHEMA_PREVIEW_MAX);
	v_error(c, "unexpected property %s", qb.p != NULL && !qb.oom ?
	    qb.p : "");
	free(qb.p);
}

/*
 * Property k's value v against properties, patternProperties and
 * additionalProperties.
 */
static int
v_object_member(struct vctx *c, const struct snode *n, const char *k,
    json_object *v)
{
	const struct sprop	*p;
	struct sprop		 key;
	size_t			 i;
	int			 ok = 1, matched = 0;

	if (n->nprops > 0) {
		key.name = (char *)(uintptr_t)k;
		p = bsearch(&key, n->props, n->nprops, sizeof(*n->props),
		    prop_cmp);
		if (p != NULL) {
			matched = 1;
			if (p->node->kind != SN_TRUE &&
			    !v_member(c, p->node, k, v))
				ok = 0;
		}
	}
	for (i = 0; i < n->npatprops && (ok || !V_STOP(c)); i++) {
		if (v_match(c, &n->patprops[i].pat, k, strlen(k)) != 1)
			continue;
		matched = 1;
		if (!v_member(c, n->patprops[i].node, k, v))
			ok = 0;
	}
	if (!ok && V_STOP(c))
		return 0;
	if (matched || n->additional == NULL ||
	    n->additional->kind == SN_TRUE)
		return ok;
	if (n->additional->kind == SN_FALSE) {
		v_unexpected(c, k);
		return 0;
	}
	return v_member(c, n->additional, k, v) && ok;
}

/* Property name k against propertyNames pn: 1, 0, or -1 to stop now. */
static int
v_property_name(struct vctx *c, const struct snode *pn, const char *k)
{
	json_object	*name;
	int		 ok;

	if (v_name_simple(pn)) {
		/* only string keywords: no json-c string needed */
		c->name = k;
		ok = v_string(c, pn, k, strlen(k));
		c->name = NULL;
		return ok;
	}
	if (pn->kind == SN_TRUE)
		return 1;
	if (!v_charge(c, strlen(k) / 64 + 1))
		return -1;
	if ((name = json_object_new_string(k)) == NULL) {
		v_error(c, "out of memory");
		return -1;
	}
	ok = v_quiet(c, pn, name);
	if (!ok && c->res != NULL) {
		c->name = k;
		(void)v_node(c, pn, name);
		c->name = NULL;
	}
	json_object_put(name);
	return ok;
}

/* dependentRequired, dependentSchemas, dependencies. */
static int
v_object_deps(struct vctx *c, const struct snode *n, json_object *j)
{
	const struct sdep	*d;
	size_t			 i, r;
	int			 ok = 1;

	for (i = 0; i < n->ndeps; i++) {
		d = &n->deps[i];
		if (!v_charge(c, 1 + d->nreq))
			return 0;
		if (!json_object_object_get_ex(j, d->name, NULL))
			continue;
		for (r = 0; r < d->nreq; r++) {
			if (json_object_object_get_ex(j, d->req[r], NULL))
				continue;
			v_error(c, "property \"%s\" requires property \"%s\"",
			    d->name, d->req[r]);
			ok = 0;
			if (V_STOP(c))
				return 0;
		}
		if (d->node != NULL && !v_node(c, d->node, j)) {
			ok = 0;
			if (V_STOP(c))
				return 0;
		}
	}
	return ok;
}

static int
v_object(struct vctx *c, const struct snode *n, json_object *j)
{
	struct lh_entry	*e;
	int		 ok = 1, r;

	if (!v_object_counts(c, n, j)) {
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	if (n->nprops > 0 || n->npatprops > 0 || n->additional != NULL ||
	    n->property_names != NULL) {
		for (e = lh_table_head(json_object_get_object(j)); e != NULL;
		    e = lh_entry_next(e)) {
			if (!v_charge(c, 1))
				return 0;
			if (!v_object_member(c, n, lh_entry_k(e),
			    lh_entry_v(e))) {
				ok = 0;
				if (V_STOP(c))
					return 0;
			}
			if (n->property_names == NULL)
				continue;
			if ((r = v_property_name(c, n->property_names,
			    lh_entry_k(e))) == -1)
				return 0;
			if (r == 0) {
				ok = 0;
				if (V_STOP(c))
					return 0;
			}
		}
	}
	return v_object_deps(c, n, j) && ok;
}

/* A propertyNames schema made only of string keywords (the usual case). */
static int
v_name_simple(const struct snode *n)
{
	return n->kind == SN_SCHEMA && n->ref == NULL &&
	    (n->types == 0 || (n->types & T_STRING)) &&
	    (n->has & ~(uint32_t)(HAS_STRING_KW | HAS_MINLEN | HAS_MAXLEN)) ==
	    0;
}

/* Move every error of from into to (within the cap); from is emptied. */
static void
result_append(struct schema_result *to, struct schema_result *from)
{
	struct schema_error	*ne;
	size_t			 i, ncap;

	for (i = 0; i < from->nerrors; i++) {
		if (to->nerrors >= SCHEMA_MAX_ERRORS || to->truncated) {
			to->truncated = 1;
			break;
		}
		if (to->nerrors == to->cap) {
			ncap = to->cap == 0 ? 4 : to->cap * 2;
			if ((ne = realloc(to->errors, ncap * sizeof(*ne))) ==
			    NULL) {
				to->truncated = 1;
				break;
			}
			to->errors = ne;
			to->cap = ncap;
		}
		to->errors[to->nerrors++] = from->errors[i];
		from->errors[i].path = NULL;
		from->errors[i].message = NULL;
	}
	if (from->truncated)
		to->truncated = 1;
	schema_result_free(from);
}

/*
 * After anyOf/oneOf failed: if one branch is clearly the one meant (the
 * fewest errors, and none about the value as a whole, such as its type),
 * add that branch's errors too.
 */
static void
v_best_branch(struct vctx *c, struct snode *const *br, size_t nbr,
    json_object *j)
{
	struct schema_result	 tmp, best;
	struct schema_result	*saved = c->res;
	char			*here;
	size_t			 i, k, score, best_score = SIZE_MAX, at_here;
	int			 tie = 0;

	if (c->res == NULL || c->detail_budget <= 0 || nbr < 2)
		return;
	c->detail_budget--;
	if ((here = v_path(c)) == NULL)
		return;
	memset(&best, 0, sizeof(best));
	for (i = 0; i < nbr; i++) {
		memset(&tmp, 0, sizeof(tmp));
		c->res = &tmp;
		(void)v_node(c, br[i], j);
		c->res = saved;
		at_here = 0;
		for (k = 0; k < tmp.nerrors; k++)
			if (strcmp(tmp.errors[k].path, here) == 0)
				at_here++;
		if (tmp.nerrors == 0 || at_here > 0) {
			schema_result_free(&tmp);
			continue;
		}
		score = tmp.nerrors + (tmp.truncated ? SCHEMA_MAX_ERRORS : 0);
		if (score < best_score) {
			schema_result_free(&best);
			best = tmp;
			best_score = score;
			tie = 0;
		} else {
			if (score == best_score)
				tie = 1;
			schema_result_free(&tmp);
		}
	}
	free(here);
	if (best.nerrors > 0 && !tie)
		result_append(c->res, &best);
	else
		schema_result_free(&best);
}

static int
v_applicators(struct vctx *c, const struct snode *n, json_object *j)
{
	size_t	 i, matched;
	int	 ok = 1;

	for (i = 0; i < n->nall_of; i++) {
		if (!v_node(c, n->all_of[i], j)) {
			ok = 0;
			if (V_STOP(c))
				return 0;
		}
	}
	if (n->nany_of > 0) {
		for (i = 0; i < n->nany_of; i++)
			if (v_quiet(c, n->any_of[i], j))
				break;
		if (i == n->nany_of) {
			v_error(c, "must match at least one schema in anyOf");
			ok = 0;
			if (V_STOP(c))
				return 0;
			v_best_branch(c, n->any_of, n->nany_of, j);
		}
	}
	if (n->none_of > 0) {
		matched = 0;
		/* quiet: the second match settles it; else count them all */
		for (i = 0; i < n->none_of && (matched < 2 || c->res != NULL);
		    i++)
			if (v_quiet(c, n->one_of[i], j))
				matched++;
		if (matched != 1) {
			v_error(c, "must match exactly one schema in oneOf "
			    "(matched %zu)", matched);
			ok = 0;
			if (V_STOP(c))
				return 0;
			if (matched == 0)
				v_best_branch(c, n->one_of, n->none_of, j);
		}
	}
	if (n->not_ != NULL && v_quiet(c, n->not_, j)) {
		v_error(c, "must not match the schema in \"not\"");
		ok = 0;
		if (V_STOP(c))
			return 0;
	}
	if (n->if_ != NULL) {
		if (v_quiet(c, n->if_, j)) {
			if (n->then_ != NULL && !v_node(c, n->then_, j))
				ok = 0;
		} else {
			if (n->else_ != NULL && !v_node(c, n->else_, j))
				ok = 0;
		}
	}
	return ok;
}

/* Out of line, so that its buffers are not on every v_node() frame. */
static void
v_type_error(struct vctx *c, unsigned types, json_object *j)
{
	char	 want[96], got[SCHEMA_PREVIEW_MAX + 32];

	if (V_STOP(c))
		return;		/* no message is wanted */
	v_types(types, want, sizeof(want));
	v_describe(j, got, sizeof(got));
	v_error(c, "expected %s, got %s", want, got);
}

/* n's $ref against j. */
static int
v_ref(struct vctx *c, const struct snode *n, json_object *j)
{
	size_t	 i;
	int	 r;

	if (!v_charge(c, c->nrefs / 16))
		return 0;
	/* the same schema on the same value again: it never ends */
	for (i = 0; i < c->nrefs; i++)
		if (c->refs[i].node == n->ref && c->refs[i].j == j)
			break;
	if (i < c->nrefs) {
		v_abort(c, "$ref cycle: the schema refers to itself "
		    "without going into the value");
		return 0;
	}
	c->refs[c->nrefs].node = n->ref;
	c->refs[c->nrefs].j = j;
	c->nrefs++;
	r = v_node(c, n->ref, j);
	c->nrefs--;
	return r;
}

/* enum and const: a step per node compared. */
static int
v_values(struct vctx *c, const struct snode *n, json_object *j)
{
	unsigned long	 work;
	size_t		 i;
	int		 ok = 1, eq = 0;

	if (n->has & HAS_ENUM) {
		for (i = 0; i < n->nenums && !eq; i++) {
			work = 0;
			eq = sv_eq(&n->enums[i], j, 0, &work);
			if (!v_charge(c, work))
				return 0;
		}
		if (!eq) {
			v_error(c, "%s", n->enum_msg);
			ok = 0;
			if (V_STOP(c))
				return 0;
		}
	}
	if (n->has & HAS_CONST) {
		work = 0;
		eq = sv_eq(&n->const_val, j, 0, &work);
		if (!v_charge(c, work))
			return 0;
		if (!eq) {
			v_error(c, "%s", n->const_msg);
			ok = 0;
		}
	}
	return ok;
}

/* The keywords about the type j is. */
static int
v_typed(struct vctx *c, const struct snode *n, json_object *j)
{
	switch (json_object_get_type(j)) {
	case json_type_int:
	case json_type_double:
		return !(n->has & HAS_NUMBER_KW) || v_number(c, n, j);
	case json_type_string:
		return !(n->has & HAS_STRING_KW) || v_string(c, n,
		    json_object_get_string(j),
		    (size_t)json_object_get_string_len(j));
	case json_type_array:
		return !(n->has & HAS_ARRAY_KW) || v_array(c, n, j);
	case json_type_object:
		return !(n->has & HAS_OBJECT_KW) || v_object(c, n, j);
	default:
		return 1;
	}
}

static int
v_node(struct vctx *c, const struct snode *n, json_object *j)
{
	int	 ok = 1;

	if (!v_charge(c, 1))
		return 0;
	if (n->kind == SN_TRUE)
		return 1;
	if (n->kind == SN_FALSE) {
		v_error(c, "no value is allowed here (the schema is false)");
		return 0;
	}
	if (c->depth >= SCHEMA_MAX_DEPTH) {
		v_abort(c, "schema evaluation nested more than %d levels",
		    SCHEMA_MAX_DEPTH);
		return 0;
	}
	c->depth++;
	if (n->ref != NULL && !v_ref(c, n, j)) {
		ok = 0;
		if (V_STOP(c))
			goto done;
	}
	if (n->types != 0 && (n->types & json_type_bits(j)) == 0) {
		v_type_error(c, n->types, j);
		ok = 0;
		/* what applies to the type it is not is noise */
		goto done;
	}
	if (n->has == 0)
		goto done;
	if ((n->has & (HAS_ENUM | HAS_CONST)) && !v_values(c, n, j)) {
		ok = 0;
		if (V_STOP(c))
			goto done;
	}
	if (!v_typed(c, n, j)) {
		ok = 0;
		if (V_STOP(c))
			goto done;
	}
	if ((n->has & HAS_APPLICATOR) && !v_applicators(c, n, j))
		ok = 0;
done:
	c->depth--;
	return c->aborted ? 0 : ok;
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec	 ts;

	if (clock_gettime(id, &ts) == -1)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The first check, or the first pattern match: the wall clock starts. */
static void
v_clock_start(struct vctx *c)
{
	if ((c->clock.wall_ref = clock_ns(CLOCK_MONOTONIC)) == 0)
		c->clock.state = VCLOCK_OFF;
	else
		c->clock.state = VCLOCK_WALL;
}

/*
 * Whether the CPU budget still holds. The thread's CPU clock is a system
 * call (1.5 us on a small VM) where the monotonic clock is not, and a
 * thread never gets more CPU time than wall time passes; so the CPU clock
 * is read only when the wall clock says the budget might be spent. The
 * wall clock starts at the first check or before the first pattern match,
 * whichever comes first, and the CPU clock is first read at the first
 * check prefix_ns later: what runs before it (SCHEMA_CHECK_STEPS steps,
 * prefix_ns, and one pattern match at most) is not counted, and a small
 * validation reads no clock at all.
 */
static int
v_clock_ok(struct vctx *c)
{
	struct vclock	*k = &c->clock;
	uint64_t	 w, cpu;

	if (k->state == VCLOCK_IDLE) {
		v_clock_start(c);
		return 1;
	}
	if (k->state == VCLOCK_OFF)
		return 1;
	if ((w = clock_ns(CLOCK_MONOTONIC)) == 0)
		goto off;
	if (k->state == VCLOCK_WALL && w - k->wall_ref < k->prefix_ns)
		return 1;
	if (k->state == VCLOCK_CPU &&
	    k->cpu_ref - k->cpu0 + (w - k->wall_ref) < k->budget_ns)
		return 1;
	if ((cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID)) == 0)
		goto off;
	if (k->state == VCLOCK_WALL) {
		k->cpu0 = cpu;
		k->state = VCLOCK_CPU;
	}
	k->cpu_ref = cpu;
	k->wall_ref = w;
	return cpu - k->cpu0 < k->budget_ns;
off:
	k->state = VCLOCK_OFF;
	return 1;
}

/*
 * The slow path of v_charge(), also run after every pattern match: the
 * step budget, then the CPU budget. 0 once the instance is too costly or
 * another limit stopped the validation.
 */
static int
v_check(struct vctx *c)
{
	unsigned long	 us = c->cpu_us;

	if (c->aborted)
		return 0;
	if (c->steps > c->max_steps) {
		v_costly(c, SCHEMA_COSTLY_STEPS, "more than %lu steps",
		    c->max_steps);
		return 0;
	}
	if (!v_clock_ok(c)) {
		if (us % 1000 == 0)
			v_costly(c, SCHEMA_COSTLY_CPU, "more than %lu ms of "
			    "CPU", us / 1000);
		else
			v_costly(c, SCHEMA_COSTLY_CPU, "more than %lu us of "
			    "CPU", us);
		return 0;
	}
	if (c->max_steps - c->steps >= SCHEMA_CHECK_STEPS)
		c->next_check = c->steps + SCHEMA_CHECK_STEPS;
	else if (c->max_steps < ULONG_MAX)
		c->next_check = c->max_steps + 1;
	else
		c->next_check = ULONG_MAX;
	return 1;
}

/* Charge n work units: 0 once the instance is too costly (or aborted). */
static int
v_charge(struct vctx *c, unsigned long n)
{
	c->steps = n > ULONG_MAX - c->steps ? ULONG_MAX : c->steps + n;
	if (c->steps < c->next_check)
		return 1;
	return v_check(c);
}

/* A budget ran out: the one error says which ("more than ..."). */
static void
v_costly(struct vctx *c, int kind, const char *fmt, ...)
{
	char	 what[96];
	va_list	 ap;

	if (c->aborted)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	c->costly = kind;
	v_abort(c, "the arguments are too costly to validate (%s)", what);
}

static void
v_init(struct vctx *c, struct schema_result *res,
    const struct schema_limits *lim)
{
	uint64_t	 us;

	/* not memset: the path and $ref stacks are used as they fill */
	c->res = res;
	c->depth = 0;
	c->detail_budget = SCHEMA_DETAIL_BUDGET;
	c->steps = 0;
	c->max_steps = lim != NULL && lim->steps != 0 ? lim->steps :
	    SCHEMA_DEFAULT_STEPS;
	c->match_limit = lim != NULL && lim->match_limit != 0 ?
	    lim->match_limit : SCHEMA_DEFAULT_MATCH_LIMIT;
	c->cpu_us = lim != NULL && lim->cpu_us != 0 ? lim->cpu_us :
	    SCHEMA_DEFAULT_CPU_US;
	c->next_check = c->max_steps < SCHEMA_CHECK_STEPS ?
	    c->max_steps + 1 : SCHEMA_CHECK_STEPS;
	memset(&c->clock, 0, sizeof(c->clock));
	c->clock.state = VCLOCK_IDLE;
	us = c->cpu_us;
	c->clock.budget_ns = us > UINT64_MAX / 1000 ? UINT64_MAX : us * 1000;
	c->clock.prefix_ns = c->clock.budget_ns / 8 < SCHEMA_CLOCK_PREFIX_NS ?
	    c->clock.budget_ns / 8 : SCHEMA_CLOCK_PREFIX_NS;
	c->costly = SCHEMA_COSTLY_NO;
	c->name = NULL;
	c->aborted = 0;
	c->abort_path = NULL;
	c->npath = 0;
	c->nrefs = 0;
}

/* Report the limit that stopped the validation, if one did. */
static void
v_finish(struct vctx *c, struct schema_result *res)
{
	int	 trunc;

	if (!c->aborted)
		return;
	if (res == NULL) {
		free(c->abort_path);
		return;
	}
	if (c->costly != SCHEMA_COSTLY_NO) {
		/* the only error: the others are what was seen before it */
		schema_result_free(res);
		res->too_costly = c->costly;
		result_add(res, c->abort_path, strdup(c->abort_msg));
		return;
	}
	/* this error must be seen: it takes the last place */
	trunc = res->truncated;
	if (res->nerrors >= SCHEMA_MAX_ERRORS) {
		res->nerrors--;
		free(res->errors[res->nerrors].path);
		free(res->errors[res->nerrors].message);
		trunc = 1;
	}
	res->truncated = 0;
	result_add(res, c->abort_path, strdup(c->abort_msg));
	res->truncated |= trunc;
}

int
schema_validate_limits(const struct schema *s, json_object *instance,
    struct schema_result *res, const struct schema_limits *lim,
    struct schema_usage *used)
{
	struct vctx	 c;
	int		 ok;

	v_init(&c, res, lim);
	ok = v_node(&c, s->root, instance);
	if (c.aborted)
		ok = 0;
	v_finish(&c, res);
	if (used != NULL) {
		used->steps = c.steps;
		used->too_costly = c.costly;
	}
	return ok;
}

int
schema_validate(const struct schema *s, json_object *instance,
    struct schema_result *res)
{
	return schema_validate_limits(s, instance, res, NULL, NULL);
}

void
schema_result_free(struct schema_result *res)
{
	size_t	 i;

	if (res == NULL)
		return;
	for (i = 0; i < res->nerrors; i++) {
		free(res->errors[i].path);
		free(res->errors[i].message);
	}
	free(res->errors);
	memset(res, 0, sizeof(*res));
}
