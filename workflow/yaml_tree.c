/*
 * yaml_tree.c: libyaml events -> a tree of wf__ynode (see loader_internal.h).
 *
 * libyaml's own document loader resolves no schema, hides whether a scalar had an explicit
 * tag, and builds cyclic graphs for recursive aliases, so the tree is built here from parser
 * events: plain scalars follow the YAML 1.2 core schema (as restricted by the workflow
 * format; yaml_scalar.c), merge keys are resolved when their mapping ends, and aliases share
 * the anchored node. The builder keeps its own stack, so no input can make it recurse; the
 * size and depth of the tree with aliases expanded are bounded before anything walks it
 * recursively. Marks and errors come from yaml_source.c; a node's JSON value and its
 * description for messages, from yaml_value.c.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "wf_hash.h"

#include "loader_internal.h"

/* Physical nesting, and nesting with aliases expanded, that a workflow may use. */
#define MAX_NESTING 256
#define MAX_DEPTH   512
/* How many nodes aliases may add beyond the ones written in the file ("billion laughs"). */
#define MAX_ALIAS_NODES 1000000
#define SIZE_CAP        UINT32_MAX

#define TAG_PREFIX "tag:yaml.org,2002:"

/* A task group's size: big enough that groups are few, small enough that the model built
 * from one group's tasks soon reuses its memory. */
#define GROUP_BYTES ((size_t)256 * 1024)
#define GROUP_SLACK ((size_t)4 * 1024)

void wf__loader_release(wf__loader *L)
{
    for (size_t g = 0; g < L->tasks.n_groups; g++)
        wf_arena_release(&L->tasks.groups[g].arena);
    free(L->tasks.groups);
    L->tasks = (wf__ytasks){ 0 };
    L->cur = NULL;
    wf_arena_release(&L->arena);
    free(L->line_starts);
    L->line_starts = NULL;
}

/* libyaml counts columns in characters; errors and carets count bytes. The walk starts from
 * the previous mark when it is on the same line and not past this one, so that converting
 * every mark of a long single-line document stays linear. */
static void convert_mark(wf__loader *L, yaml_mark_t ym, wf_mark *m, size_t *offset)
{
    size_t line0 = ym.line < L->n_lines ? ym.line : L->n_lines - 1;
    size_t p = L->line_starts[line0], end = wf__yaml_line_end(L, line0), chars = 0;

    /* libyaml skips a byte order mark without counting it. */
    if (line0 == 0 && L->src_len >= 3 && memcmp(L->src, "\xEF\xBB\xBF", 3) == 0)
        p = 3;
    if (L->cur_line == line0 && L->cur_chars <= ym.column && L->cur_off >= p) {
        p = L->cur_off;
        chars = L->cur_chars;
    }
    while (p < end && chars < ym.column) {
        p++;
        while (p < end && ((unsigned char)L->src[p] & 0xC0) == 0x80)
            p++;
        chars++;
    }
    L->cur_line = line0;
    L->cur_chars = chars;
    L->cur_off = p;
    m->line = (int)line0 + 1;
    m->column = (int)(p - L->line_starts[line0]) + 1;
    if (offset != NULL)
        *offset = p;
}

void wf__yaml_free_group(wf__loader *L, size_t g)
{
    wf_arena_release(&L->tasks.groups[g].arena);
}

static wf_arena *tree_arena(wf__loader *L)
{
    return L->cur != NULL ? L->cur : &L->arena;
}

static wf__ynode *new_node(wf__loader *L, wf__ytype type, yaml_mark_t ym)
{
    wf__ynode *n = wf_arena_alloc(tree_arena(L), sizeof(*n));
    size_t offset;

    n->type = type;
    /* A null that stands for a bad alias may end up as a map key: give it a text. */
    if (type == WF__Y_NULL)
        n->text = wf_arena_strndup(tree_arena(L), "", 0);
    convert_mark(L, ym, &n->mark, &offset);
    n->offset = (uint32_t)offset;
    n->size = 1;
    n->depth = 1;
    L->n_nodes++;
    return n;
}

/* Entries being collected: the raw pairs of the open collections (one stack for all of
 * them, each collection's on top of its parent's), or a map's final entries while merge keys
 * are resolved. A closed collection's entries are copied into the arena at their exact size. */
typedef struct entries {
    wf__ynode **keys, **items;
    size_t n, cap;
} entries;

static void push_entry(entries *e, wf__ynode *key, wf__ynode *value)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->items = wf_xrealloc(e->items, e->cap * sizeof(*e->items));
        e->keys = wf_xrealloc(e->keys, e->cap * sizeof(*e->keys));
    }
    e->keys[e->n] = key;
    e->items[e->n++] = value;
}

static void release_entries(entries *e)
{
    free(e->keys);
    free(e->items);
}

static bool has_tpl_text(const char *s, size_t len)
{
    for (size_t k = 0; k + 1 < len; k++)
        if (s[k] == '<' && s[k + 1] == '<')
            return true;
    return false;
}

static void finish_scalar(wf__loader *L, wf__ynode *n, const yaml_event_t *ev)
{
    const char *tag = (const char *)ev->data.scalar.tag;

    switch (ev->data.scalar.style) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE:
        n->style = WF__YS_SINGLE;
        break;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
        n->style = WF__YS_DOUBLE;
        break;
    case YAML_LITERAL_SCALAR_STYLE:
        n->style = WF__YS_LITERAL;
        break;
    case YAML_FOLDED_SCALAR_STYLE:
        n->style = WF__YS_FOLDED;
        break;
    default:
        n->style = WF__YS_PLAIN;
        break;
    }
    /* Every byte, an escaped NUL ("\0", "\u0000") included: a value is never cut short here.
     * Where such a string can reach a process it is refused with its position (templates
     * compiled WF_TPL_CSTRING) or, for data such as items, when the unit renders it. */
    n->len = (uint32_t)ev->data.scalar.length; /* within the file's size */
    n->text = wf_arena_strndup(tree_arena(L), (const char *)ev->data.scalar.value, n->len);
    n->type = WF__Y_STRING;
    if (tag == NULL) {
        if (n->style == WF__YS_PLAIN)
            wf__yaml_resolve_plain(L, n);
    } else if (strcmp(tag, "!") == 0 || strcmp(tag, TAG_PREFIX "str") == 0) {
        n->type = WF__Y_STRING;
    } else if (strcmp(tag, TAG_PREFIX "int") == 0 || strcmp(tag, TAG_PREFIX "float") == 0 ||
               strcmp(tag, TAG_PREFIX "bool") == 0 || strcmp(tag, TAG_PREFIX "null") == 0) {
        const char *want = tag + strlen(TAG_PREFIX);
        bool ok;

        wf__yaml_resolve_plain(L, n);
        if (strcmp(want, "float") == 0 && n->type == WF__Y_INT) {
            n->type = WF__Y_DOUBLE;
            n->d = (double)n->i;
        }
        ok = (strcmp(want, "int") == 0 && n->type == WF__Y_INT) ||
             (strcmp(want, "float") == 0 && n->type == WF__Y_DOUBLE) ||
             (strcmp(want, "bool") == 0 && n->type == WF__Y_BOOL) ||
             (strcmp(want, "null") == 0 && n->type == WF__Y_NULL);
        if (!ok) {
            wf__loader_error(L, n->mark, WF_ETYPE, "'%s' is not a valid !!%s", n->text, want);
            n->type = WF__Y_STRING;
        }
    } else {
        wf__loader_error(L, n->mark, WF_EINVAL,
                         "unsupported YAML tag '%s' (only !!str, !!int, !!float, !!bool and "
                         "!!null are understood)",
                         tag);
    }
    n->has_tpl = n->type == WF__Y_STRING && has_tpl_text(n->text, n->len);
}

static int key_cmp(const wf__ynode *a, const wf__ynode *b)
{
    size_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->text, b->text, m);

    if (c != 0)
        return c;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return 0;
}

/* A key with its position among the entries, for sorting. */
typedef struct keyed {
    wf__ynode *key, *value;
    size_t seq;
} keyed;

static int keyed_cmp(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    int c = key_cmp(a->key, b->key);

    if (c != 0)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static bool is_merge_key(const wf__ynode *k)
{
    return k->style == WF__YS_PLAIN && k->type == WF__Y_STRING && strcmp(k->text, "<<") == 0;
}

/* Sorts e[0..n) by (key, seq) and flags in drop[seq] every entry whose key came earlier;
 * report says whether that is a duplicate-key error. */
static void flag_duplicates(wf__loader *L, keyed *e, size_t n, bool *drop, bool report)
{
    qsort(e, n, sizeof(*e), keyed_cmp);
    for (size_t k = 1, first = 0; k < n; k++) {
        if (key_cmp(e[first].key, e[k].key) != 0) {
            first = k;
            continue;
        }
        drop[e[k].seq] = true;
        if (report)
            wf__loader_error(L, e[k].key->mark, WF_EINVAL, "duplicate key '%s' (first at line %d)",
                             e[k].key->text, e[first].key->mark.line);
    }
}

static bool in_sorted(const keyed *sorted, size_t n, const wf__ynode *k)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(sorted[mid].key, k);

        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* The entries a merge key brings: those of its map, or of each map of its list (earlier maps
 * win), minus the keys the mapping itself has. */
static void add_merged(wf__loader *L, entries *out, const wf__ynode *v, const keyed *own,
                       size_t n_own)
{
    size_t total = 0, n = 0;
    const wf__ynode *single[1] = { v };
    const wf__ynode *const *maps = single;
    size_t n_maps = 1;
    keyed *e, *ordered;
    bool *drop;

    if (v->type == WF__Y_LIST) {
        maps = (const wf__ynode *const *)v->items;
        n_maps = v->n;
    } else if (v->type != WF__Y_MAP) {
        wf__loader_error(L, v->mark, WF_ETYPE,
                         "a merge key '<<' takes a map or a list of maps (usually an alias "
                         "like *defaults)");
        return;
    }
    for (size_t m = 0; m < n_maps; m++)
        total += maps[m]->type == WF__Y_MAP ? maps[m]->n : 0;
    e = wf_xmalloc((total + 1) * sizeof(*e));
    ordered = wf_xmalloc((total + 1) * sizeof(*ordered));
    drop = wf_xcalloc(total + 1, sizeof(*drop));
    for (size_t m = 0; m < n_maps; m++) {
        if (maps[m]->type != WF__Y_MAP) {
            wf__loader_error(L, maps[m]->mark, WF_ETYPE,
                             "a merge key '<<' takes a map or a list of maps");
            continue;
        }
        for (size_t k = 0; k < maps[m]->n; k++) {
            e[n].key = maps[m]->keys[k];
            e[n].value = maps[m]->items[k];
            e[n].seq = n;
            n++;
        }
    }
    flag_duplicates(L, e, n, drop, false);
    /* Back to the order the maps give, keeping the first of each key. */
    for (size_t k = 0; k < n; k++) {
        if (!drop[e[k].seq] && in_sorted(own, n_own, e[k].key))
            drop[e[k].seq] = true;
        ordered[e[k].seq] = e[k];
    }
    for (size_t k = 0; k < n; k++)
        if (!drop[k])
            push_entry(out, ordered[k].key, ordered[k].value);
    free(ordered);
    free(e);
    free(drop);
}

/* A map of a few keys and no merge key, the common case: duplicates found pairwise, the
 * entries kept in the arena without sorting anything. False when the map is not such a map. */
static bool finish_small_map(wf__loader *L, wf__ynode *n, wf__ynode **raw_keys,
                             wf__ynode **raw_values, size_t raw_n)
{
    wf__ynode *keys[16], *values[16];
    size_t kept = 0;

    if (raw_n > 16)
        return false;
    for (size_t k = 0; k < raw_n; k++)
        if (is_merge_key(raw_keys[k]))
            return false;
    for (size_t k = 0; k < raw_n; k++) {
        size_t first = 0;

        while (first < kept && key_cmp(keys[first], raw_keys[k]) != 0)
            first++;
        if (first < kept) {
            wf__loader_error(L, raw_keys[k]->mark, WF_EINVAL,
                             "duplicate key '%s' (first at line %d)", raw_keys[k]->text,
                             keys[first]->mark.line);
            continue;
        }
        keys[kept] = raw_keys[k];
        values[kept++] = raw_values[k];
    }
    n->keys = wf_arena_ptrdup(tree_arena(L), keys, kept);
    n->items = wf_arena_ptrdup(tree_arena(L), values, kept);
    n->n = (uint32_t)kept;
    return true;
}

/* A map too big for finish_small_map with no merge key and no two keys alike (the tasks map of
 * a generated workflow: 100,000 keys) is kept as written; that is checked with a hash table,
 * so only a map with a duplicate is sorted (finish_map reports it). False otherwise. */
static bool finish_plain_map(wf__loader *L, wf__ynode *n, wf__ynode **raw_keys,
                             wf__ynode **raw_values, size_t raw_n)
{
    size_t slots = 16, mask;
    uint32_t *table;
    bool differ = true;

    for (size_t k = 0; k < raw_n; k++)
        if (is_merge_key(raw_keys[k]))
            return false;
    while (slots < 2 * raw_n)
        slots *= 2;
    mask = slots - 1;
    table = wf_xcalloc(slots, sizeof(*table));
    for (size_t k = 0; k < raw_n && differ; k++) {
        size_t h = wf_hash_bytes(raw_keys[k]->text, raw_keys[k]->len) & mask;

        for (; table[h] != 0 && differ; h = (h + 1) & mask)
            differ = key_cmp(raw_keys[table[h] - 1], raw_keys[k]) != 0;
        table[h] = (uint32_t)(k + 1); /* raw_n < 4 Gi: the file is smaller */
    }
    free(table);
    if (!differ)
        return false;
    n->keys = wf_arena_ptrdup(tree_arena(L), raw_keys, raw_n);
    n->items = wf_arena_ptrdup(tree_arena(L), raw_values, raw_n);
    n->n = (uint32_t)raw_n;
    return true;
}

/* Turns the raw key/value pairs of a finished mapping into its final entries: explicit keys
 * unique, merge keys replaced by the entries they bring, where they stand. */
static void finish_map(wf__loader *L, wf__ynode *n, wf__ynode **raw_keys, wf__ynode **raw_values,
                       size_t raw_n)
{
    size_t n_own = 0, n_merges = 0;
    keyed *own;
    bool *drop;
    entries out = { 0 };

    if (finish_small_map(L, n, raw_keys, raw_values, raw_n) ||
        finish_plain_map(L, n, raw_keys, raw_values, raw_n))
        return;
    own = wf_xmalloc((raw_n + 1) * sizeof(*own));
    drop = wf_xcalloc(raw_n + 1, sizeof(*drop));

    for (size_t k = 0; k < raw_n; k++) {
        if (is_merge_key(raw_keys[k]))
            continue;
        own[n_own].key = raw_keys[k];
        own[n_own].value = raw_values[k];
        own[n_own].seq = k;
        n_own++;
    }
    /* Sorted by (key, position), a duplicate follows its first occurrence. */
    flag_duplicates(L, own, n_own, drop, true);
    for (size_t k = 0; k < raw_n; k++) {
        if (drop[k])
            continue;
        if (!is_merge_key(raw_keys[k])) {
            push_entry(&out, raw_keys[k], raw_values[k]);
            continue;
        }
        if (++n_merges > 1) {
            wf__loader_error(L, raw_keys[k]->mark, WF_EINVAL,
                             "duplicate merge key '<<' in one mapping");
            continue;
        }
        add_merged(L, &out, raw_values[k], own, n_own);
    }
    free(own);
    free(drop);
    n->keys = wf_arena_ptrdup(tree_arena(L), out.keys, out.n);
    n->items = wf_arena_ptrdup(tree_arena(L), out.items, out.n);
    n->n = (uint32_t)out.n;
    release_entries(&out);
}

/* Size, depth and has_tpl of a finished collection, from its children. */
static void finish_collection(wf__ynode *n)
{
    uint64_t size = 1;
    int depth = 0;

    for (size_t k = 0; k < n->n; k++) {
        const wf__ynode *c = n->items[k];

        size += c->size + (n->type == WF__Y_MAP ? 1 : 0);
        if (size > SIZE_CAP)
            size = SIZE_CAP;
        if (c->depth > depth)
            depth = c->depth;
        n->has_tpl = n->has_tpl || c->has_tpl;
    }
    n->size = (uint32_t)size;
    n->depth = (uint16_t)(depth < MAX_DEPTH * 2 ? depth + 1 : depth);
}

typedef struct frame {
    wf__ynode *node;
    size_t base;   /* where its raw entries start on the builder's stack of entries */
    size_t anchor; /* index into anchors + 1, or 0 */
    wf__ynode *key;
    bool have_key;
} frame;

typedef struct anchor {
    char *name;
    wf__ynode *node; /* NULL while its collection is still open */
} anchor;

typedef struct builder {
    wf__loader *L;
    frame *stack;
    size_t depth, cap;
    entries raw; /* the raw entries of the open collections */
    anchor *anchors;
    size_t n_anchors, anchors_cap;
    wf__ynode *root;
    int documents;
    size_t task_anchors; /* anchors defined before the open task entry's key */
} builder;

static size_t add_anchor(builder *b, const char *name, wf__ynode *node)
{
    if (b->n_anchors == b->anchors_cap) {
        b->anchors_cap = b->anchors_cap ? b->anchors_cap * 2 : 8;
        b->anchors = wf_xrealloc(b->anchors, b->anchors_cap * sizeof(*b->anchors));
    }
    b->anchors[b->n_anchors].name = wf_xstrdup(name);
    b->anchors[b->n_anchors].node = node;
    return ++b->n_anchors;
}

/* Whether the innermost open collection is the top-level tasks map. */
static bool in_tasks_map(const builder *b)
{
    const wf__ynode *k = b->depth == 2 ? b->stack[0].key : NULL;

    return b->documents == 1 && k != NULL && b->stack[0].node->type == WF__Y_MAP &&
           k->type == WF__Y_STRING && strcmp(k->text, "tasks") == 0 &&
           b->stack[1].node->type == WF__Y_MAP;
}

/* Called before each node: a key of the tasks map starts a task entry, whose nodes (the key
 * and the value) go to the newest task group, or to a new group once the newest holds
 * GROUP_BYTES and its last chunk is about full. */
static void before_node(builder *b)
{
    wf__ytasks *t = &b->L->tasks;
    const wf_arena *a = t->n_groups > 0 ? &t->groups[t->n_groups - 1].arena : NULL;

    if (!in_tasks_map(b) || b->stack[1].have_key)
        return;
    if (a == NULL || (a->bytes >= GROUP_BYTES && (size_t)(a->end - a->next) < GROUP_SLACK)) {
        t->groups = wf_xrealloc(t->groups, (t->n_groups + 1) * sizeof(*t->groups));
        memset(&t->groups[t->n_groups], 0, sizeof(*t->groups));
        t->n_groups++;
    }
    b->L->cur = &t->groups[t->n_groups - 1].arena;
    b->task_anchors = b->n_anchors;
}

/* The value of a task entry is attached: the entry's nodes are done. */
static void end_task_entry(builder *b, bool kept)
{
    wf__ytasks *t = &b->L->tasks;
    wf__ygroup *g = &t->groups[t->n_groups - 1];

    g->pinned |= b->n_anchors > b->task_anchors;
    if (kept)
        g->end = ++t->n_values;
    b->L->cur = NULL;
}

/* Hands a finished node to the collection that contains it (or makes it the root). */
static void attach(builder *b, wf__ynode *n)
{
    frame *f;

    /* Nodes of a second document stay in the arena, unused: it is reported as an error. */
    if (b->depth == 0) {
        if (b->documents < 2)
            b->root = n;
        return;
    }
    f = &b->stack[b->depth - 1];
    if (f->node->type == WF__Y_LIST) {
        push_entry(&b->raw, NULL, n);
        return;
    }
    if (!f->have_key) {
        if (n->type != WF__Y_NULL && n->type != WF__Y_BOOL && n->type != WF__Y_INT &&
            n->type != WF__Y_DOUBLE && n->type != WF__Y_STRING) {
            wf__loader_error(b->L, n->mark, WF_ETYPE, "a mapping key must be a name, not a %s",
                             n->type == WF__Y_MAP ? "map" : "list");
            n = NULL;
        }
        if (n != NULL && is_merge_key(n) && in_tasks_map(b))
            b->L->tasks.merged = true;
        f->key = n;
        f->have_key = true;
        return;
    }
    /* A key that was not a scalar was reported; its pair is left out. */
    if (f->key != NULL)
        push_entry(&b->raw, f->key, n);
    if (in_tasks_map(b))
        end_task_entry(b, f->key != NULL);
    f->have_key = false;
    f->key = NULL;
}

static void open_collection(builder *b, wf__ytype type, const yaml_event_t *ev,
                            const char *anchor_name, const char *tag)
{
    wf__ynode *n = new_node(b->L, type, ev->start_mark);
    const char *want = type == WF__Y_MAP ? TAG_PREFIX "map" : TAG_PREFIX "seq";

    if (tag != NULL && strcmp(tag, "!") != 0 && strcmp(tag, want) != 0)
        wf__loader_error(b->L, n->mark, WF_EINVAL, "unsupported YAML tag '%s' on a %s", tag,
                         type == WF__Y_MAP ? "map" : "list");
    if (b->depth == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->stack = wf_xrealloc(b->stack, b->cap * sizeof(*b->stack));
    }
    b->stack[b->depth].node = n;
    b->stack[b->depth].base = b->raw.n;
    b->stack[b->depth].anchor = anchor_name != NULL ? add_anchor(b, anchor_name, NULL) : 0;
    b->stack[b->depth].key = NULL;
    b->stack[b->depth].have_key = false;
    b->depth++;
}

/* Whether n, just closed with the root map open, is the value of its key 'tasks'. */
static bool in_tasks_map_closed(const builder *b, const wf__ynode *n)
{
    const wf__ynode *k = b->stack[0].key;

    return b->documents == 1 && b->stack[0].node->type == WF__Y_MAP && b->stack[0].have_key &&
           k != NULL && k->type == WF__Y_STRING && strcmp(k->text, "tasks") == 0 &&
           n->type == WF__Y_MAP;
}

static void close_collection(builder *b)
{
    frame f = b->stack[--b->depth];
    size_t n = b->raw.n - f.base;
    /* Before the first entry the stack is NULL, and NULL + 0 is undefined (UBSan). */
    wf__ynode **keys = n > 0 ? b->raw.keys + f.base : NULL;
    wf__ynode **items = n > 0 ? b->raw.items + f.base : NULL;

    if (f.node->type == WF__Y_MAP) {
        finish_map(b->L, f.node, keys, items, n);
    } else {
        f.node->items = wf_arena_ptrdup(tree_arena(b->L), items, n);
        f.node->n = (uint32_t)n;
    }
    b->raw.n = f.base;
    finish_collection(f.node);
    if (f.anchor != 0)
        b->anchors[f.anchor - 1].node = f.node;
    if (b->depth == 1 && in_tasks_map_closed(b, f.node)) {
        wf__ytasks *t = &b->L->tasks;

        t->maps++;
        /* An alias of the whole map (outputs: *tasks) would read the values after. */
        t->map =
            t->maps == 1 && !t->merged && f.anchor == 0 && f.node->n == t->n_values ? f.node : NULL;
    }
    attach(b, f.node);
}

static void alias(builder *b, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;

    for (size_t k = b->n_anchors; k > 0; k--) {
        if (strcmp(b->anchors[k - 1].name, name) != 0)
            continue;
        if (b->anchors[k - 1].node != NULL) {
            attach(b, b->anchors[k - 1].node);
            return;
        }
        wf__ynode *n = new_node(b->L, WF__Y_NULL, ev->start_mark);
        wf__loader_error(b->L, n->mark, WF_EINVAL,
                         "alias '*%s' refers to a node that contains it (recursive data is not "
                         "supported)",
                         name);
        attach(b, n);
        return;
    }
    wf__ynode *n = new_node(b->L, WF__Y_NULL, ev->start_mark);
    wf__loader_error(b->L, n->mark, WF_EINVAL, "unknown anchor '*%s' (define it with &%s first)",
                     name, name);
    attach(b, n);
}

static void yaml_error(wf__loader *L, const yaml_parser_t *p)
{
    size_t off = 0;
    wf_mark m;
    const char *problem = p->problem != NULL ? p->problem : "cannot parse";

    if (p->error == YAML_READER_ERROR) {
        /* Encoding errors (invalid UTF-8, a NUL, a control character) come from libyaml's
         * reader, which leaves problem_mark at 0:0 and says where in problem_offset, a byte
         * offset into the input. */
        m = wf__yaml_offset_mark(L,
                                 p->problem_offset < L->src_len ? p->problem_offset : L->src_len);
        if (p->problem_value >= 0)
            wf__loader_error(L, m, WF_ESYNTAX, "invalid YAML: %s (byte 0x%02x)", problem,
                             (unsigned)p->problem_value & 0xFFu);
        else
            wf__loader_error(L, m, WF_ESYNTAX, "invalid YAML: %s", problem);
        return;
    }
    convert_mark(L, p->problem_mark, &m, &off);
    /* libyaml's words for the two mistakes everyone makes, said the way people think of them. */
    if ((off < L->src_len && L->src[off] == '\t' &&
         strcmp(problem, "found character that cannot start any token") == 0) ||
        strstr(problem, "tab character") != NULL) {
        wf__loader_error(L, m, WF_ESYNTAX,
                         "YAML does not allow tabs for indentation: indent with spaces");
        return;
    }
    if (strcmp(problem, "mapping values are not allowed in this context") == 0) {
        wf__loader_error(L, m, WF_ESYNTAX,
                         "invalid YAML: mapping values are not allowed in this context: a ': ' "
                         "inside a plain value starts a mapping; quote the whole value ('...' or "
                         "\"...\") or write it as a block scalar (run: | or run: >-, the text on "
                         "the lines below)");
        return;
    }
    if (p->context != NULL) {
        wf_mark cm;

        convert_mark(L, p->context_mark, &cm, NULL);
        wf__loader_error(L, m, WF_ESYNTAX, "invalid YAML: %s (%s at line %d)", problem, p->context,
                         cm.line);
    } else {
        wf__loader_error(L, m, WF_ESYNTAX, "invalid YAML: %s", problem);
    }
}

bool wf__yaml_load(wf__loader *L, wf__ynode **root)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    builder b = { 0 };
    size_t errs_before = L->errs->len;
    bool ok = false, done = false;

    *root = NULL;
    if (L->line_starts == NULL)
        wf__yaml_build_lines(L);
    b.L = L;
    if (!yaml_parser_initialize(&parser))
        wf_oom(sizeof(parser)); /* its only failure is an allocation */
    yaml_parser_set_input_string(&parser, (const unsigned char *)L->src, L->src_len);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            yaml_error(L, &parser);
            goto out;
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++b.documents == 2) {
                wf_mark m;

                convert_mark(L, ev.start_mark, &m, NULL);
                wf__loader_error(L, m, WF_EINVAL,
                                 "a workflow file holds one YAML document; remove this '---' "
                                 "and what follows, or use another file");
            }
            break;
        case YAML_SCALAR_EVENT: {
            wf__ynode *n;

            before_node(&b);
            n = new_node(L, WF__Y_STRING, ev.start_mark);

            finish_scalar(L, n, &ev);
            if (ev.data.scalar.anchor != NULL)
                add_anchor(&b, (const char *)ev.data.scalar.anchor, n);
            attach(&b, n);
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            bool is_map = ev.type == YAML_MAPPING_START_EVENT;
            const char *anchor_name = (const char *)(is_map ? ev.data.mapping_start.anchor
                                                            : ev.data.sequence_start.anchor);
            const char *tag =
                (const char *)(is_map ? ev.data.mapping_start.tag : ev.data.sequence_start.tag);

            if (b.depth >= MAX_NESTING) {
                wf_mark m;

                convert_mark(L, ev.start_mark, &m, NULL);
                wf__loader_error(L, m, WF_ERANGE, "nesting deeper than %d levels", MAX_NESTING);
                yaml_event_delete(&ev);
                goto out;
            }
            before_node(&b);
            open_collection(&b, is_map ? WF__Y_MAP : WF__Y_LIST, &ev, anchor_name, tag);
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            close_collection(&b);
            break;
        case YAML_ALIAS_EVENT:
            before_node(&b);
            alias(&b, &ev);
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    if (b.root != NULL && b.root->depth > MAX_DEPTH) {
        wf__loader_error(L, b.root->mark, WF_ERANGE,
                         "aliases nest this document deeper than %d levels", MAX_DEPTH);
        goto out;
    }
    if (b.root != NULL && b.root->size > L->n_nodes + MAX_ALIAS_NODES) {
        wf__loader_error(L, b.root->mark, WF_ERANGE,
                         "aliases expand this document to more than %d extra values",
                         MAX_ALIAS_NODES);
        goto out;
    }
    *root = b.root;
    ok = L->errs->len == errs_before;
out:
    for (size_t k = 0; k < b.n_anchors; k++)
        free(b.anchors[k].name);
    free(b.anchors);
    free(b.stack);
    release_entries(&b.raw);
    yaml_parser_delete(&parser);
    return ok;
}
