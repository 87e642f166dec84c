/*
 * SM2 (GB/T 32918) curve arithmetic for Tongban: signing and verification on the recommended curve of
 * GB/T 32918.5, given e = SM3(Z_A || M) computed by the caller. Written for Tongban; tested against
 * OpenSSL (libs/gm/src/sm2-native.spec.ts), which stays the fallback when this addon is not built.
 *
 * Field and scalar arithmetic: 4 x 64-bit limbs (least significant first), Montgomery multiplication
 * (CIOS) with unsigned __int128, constant-time final subtraction. Points: Jacobian coordinates with
 * a = -3 doubling; fixed-base multiplication by a comb of 64 windows of 4 bits (T[i][j-1] = j.16^i.P).
 * Signing is constant-time in the nonce k and the key (table scans with masks, no secret branches);
 * verification (public inputs only) is variable-time.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t u64;
typedef unsigned __int128 u128;
typedef struct { u64 v[4]; } fe; /* an element mod p or mod n, Montgomery form unless said otherwise */

typedef struct {
  u64 m[4];   /* modulus */
  u64 minv;   /* -m^-1 mod 2^64 */
  fe r2;      /* 2^512 mod m */
  fe one;     /* 2^256 mod m (1 in Montgomery form) */
} modulus;

static const u64 P_LIMBS[4] = {0xffffffffffffffffULL, 0xffffffff00000000ULL, 0xffffffffffffffffULL, 0xfffffffeffffffffULL};
static const u64 N_LIMBS[4] = {0x53bbf40939d54123ULL, 0x7203df6b21c6052bULL, 0xffffffffffffffffULL, 0xfffffffeffffffffULL};
static const uint8_t B_BYTES[32] = {0x28, 0xe9, 0xfa, 0x9e, 0x9d, 0x9f, 0x5e, 0x34, 0x4d, 0x5a, 0x9e, 0x4b, 0xcf, 0x65, 0x09, 0xa7,
                                    0xf3, 0x97, 0x89, 0xf5, 0x15, 0xab, 0x8f, 0x92, 0xdd, 0xbc, 0xbd, 0x41, 0x4d, 0x94, 0x0e, 0x93};
static const uint8_t GX_BYTES[32] = {0x32, 0xc4, 0xae, 0x2c, 0x1f, 0x19, 0x81, 0x19, 0x5f, 0x99, 0x04, 0x46, 0x6a, 0x39, 0xc9, 0x94,
                                     0x8f, 0xe3, 0x0b, 0xbf, 0xf2, 0x66, 0x0b, 0xe1, 0x71, 0x5a, 0x45, 0x89, 0x33, 0x4c, 0x74, 0xc7};
static const uint8_t GY_BYTES[32] = {0xbc, 0x37, 0x36, 0xa2, 0xf4, 0xf6, 0x77, 0x9c, 0x59, 0xbd, 0xce, 0xe3, 0x6b, 0x69, 0x21, 0x53,
                                     0xd0, 0xa9, 0x87, 0x7c, 0xc6, 0x2a, 0x47, 0x40, 0x02, 0xdf, 0x32, 0xe5, 0x21, 0x39, 0xf0, 0xa0};

static modulus MP; /* p */
static modulus MN; /* n */
static fe B_M;     /* curve b, Montgomery mod p */

static void wipe_fe(void *p, size_t n) {
  volatile uint8_t *v = p;
  while (n--) *v++ = 0;
}

/* ---- multi-precision helpers ------------------------------------------------------------------- */

static void from_bytes(u64 r[4], const uint8_t b[32]) {
  for (int i = 0; i < 4; i++) {
    u64 w = 0;
    for (int j = 0; j < 8; j++) w = (w << 8) | b[(3 - i) * 8 + j];
    r[i] = w;
  }
}

static void to_bytes(uint8_t b[32], const u64 r[4]) {
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 8; j++) b[(3 - i) * 8 + j] = (uint8_t)(r[i] >> (56 - 8 * j));
}

/* a < m, as a 0/1 value computed without branches on the data. */
static u64 lt(const u64 a[4], const u64 m[4]) {
  u64 borrow = 0;
  for (int i = 0; i < 4; i++) {
    u128 d = (u128)a[i] - m[i] - borrow;
    borrow = (u64)(d >> 64) & 1;
  }
  return borrow;
}

static int is_zero(const u64 a[4]) { return (a[0] | a[1] | a[2] | a[3]) == 0; }
static int eq(const u64 a[4], const u64 b[4]) { return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0; }

/* r = (hi:t) - m if that does not borrow, else t; hi is the bit above t. Constant time. */
static void reduce_once(u64 r[4], const u64 t[4], u64 hi, const u64 m[4]) {
  u64 u[4], borrow = 0;
  for (int i = 0; i < 4; i++) {
    u128 d = (u128)t[i] - m[i] - borrow;
    u[i] = (u64)d;
    borrow = (u64)(d >> 64) & 1;
  }
  u64 keep_t = (u64)0 - (u64)(hi < borrow); /* all ones if (hi:t) < m */
  for (int i = 0; i < 4; i++) r[i] = (t[i] & keep_t) | (u[i] & ~keep_t);
}

static void mod_add(fe *r, const fe *a, const fe *b, const modulus *M) {
  u64 t[4], carry = 0;
  for (int i = 0; i < 4; i++) {
    u128 s = (u128)a->v[i] + b->v[i] + carry;
    t[i] = (u64)s;
    carry = (u64)(s >> 64);
  }
  reduce_once(r->v, t, carry, M->m);
}

static void mod_sub(fe *r, const fe *a, const fe *b, const modulus *M) {
  u64 t[4], borrow = 0;
  for (int i = 0; i < 4; i++) {
    u128 d = (u128)a->v[i] - b->v[i] - borrow;
    t[i] = (u64)d;
    borrow = (u64)(d >> 64) & 1;
  }
  u64 mask = (u64)0 - borrow, carry = 0;
  for (int i = 0; i < 4; i++) {
    u128 s = (u128)t[i] + (M->m[i] & mask) + carry;
    r->v[i] = (u64)s;
    carry = (u64)(s >> 64);
  }
}

/* Montgomery product a.b.2^-256 mod m (CIOS); a, b < m. */
static __attribute__((noinline)) void mont_mul(fe *r, const fe *a, const fe *b, const u64 m[4], u64 minv) {
  u64 t[6] = {0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 4; i++) {
    u128 c = 0;
    for (int j = 0; j < 4; j++) {
      c = (u128)a->v[j] * b->v[i] + t[j] + (u64)(c >> 64);
      t[j] = (u64)c;
    }
    c = (u128)t[4] + (u64)(c >> 64);
    t[4] = (u64)c;
    t[5] = (u64)(c >> 64);
    u64 q = t[0] * minv;
    c = (u128)q * m[0] + t[0];
    for (int j = 1; j < 4; j++) {
      c = (u128)q * m[j] + t[j] + (u64)(c >> 64);
      t[j - 1] = (u64)c;
    }
    c = (u128)t[4] + (u64)(c >> 64);
    t[3] = (u64)c;
    t[4] = t[5] + (u64)(c >> 64);
  }
  reduce_once(r->v, t, t[4], m);
}

/* p = 2^256 - 2^224 - 2^96 + 2^64 - 1 is -1 mod 2^64, so -p^-1 mod 2^64 = 1. */
static inline void fp_mul(fe *r, const fe *a, const fe *b) { mont_mul(r, a, b, P_LIMBS, 1); }
static inline void fp_sqr(fe *r, const fe *a) { mont_mul(r, a, a, P_LIMBS, 1); }
static inline void fp_add(fe *r, const fe *a, const fe *b) { mod_add(r, a, b, &MP); }
static inline void fp_sub(fe *r, const fe *a, const fe *b) { mod_sub(r, a, b, &MP); }
static inline void fn_mul(fe *r, const fe *a, const fe *b) { mont_mul(r, a, b, N_LIMBS, MN.minv); }

static void to_mont(fe *r, const fe *a, const modulus *M) { mont_mul(r, a, &M->r2, M->m, M->minv); }
static void from_mont(fe *r, const fe *a, const modulus *M) {
  fe one = {{1, 0, 0, 0}};
  mont_mul(r, a, &one, M->m, M->minv);
}

/*
 * a^(m-2) mod m (Fermat), a in Montgomery form. The exponent is public, so its 4-bit windows may
 * index the table of a^0..a^15 directly: the pattern of operations does not depend on a.
 */
static void mod_inv(fe *r, const fe *a, const modulus *M) {
  u64 e[4];
  u64 borrow = 2;
  for (int i = 0; i < 4; i++) {
    u128 d = (u128)M->m[i] - borrow;
    e[i] = (u64)d;
    borrow = (u64)(d >> 64) & 1;
  }
  fe pow[16];
  pow[0] = M->one;
  pow[1] = *a;
  for (int i = 2; i < 16; i++) mont_mul(&pow[i], &pow[i - 1], a, M->m, M->minv);
  fe acc = M->one;
  for (int i = 63; i >= 0; i--) {
    for (int j = 0; j < 4; j++) mont_mul(&acc, &acc, &acc, M->m, M->minv);
    unsigned w = (unsigned)(e[i / 16] >> ((i % 16) * 4)) & 15;
    if (w) mont_mul(&acc, &acc, &pow[w], M->m, M->minv);
  }
  *r = acc;
  wipe_fe(pow, sizeof pow);
}

static void init_modulus(modulus *M, const u64 m[4]) {
  memcpy(M->m, m, sizeof M->m);
  u64 inv = m[0]; /* Newton: correct to 3 bits, doubling each step */
  for (int i = 0; i < 6; i++) inv *= 2 - m[0] * inv;
  M->minv = (u64)0 - inv;
  /* 2^256 mod m = 2^256 - m (m > 2^255); doubled 256 times mod m: 2^512 mod m. */
  u64 borrow = 0;
  for (int i = 0; i < 4; i++) {
    u128 d = (u128)0 - m[i] - borrow;
    M->one.v[i] = (u64)d;
    borrow = (u64)(d >> 64) & 1;
  }
  fe t = M->one;
  for (int i = 0; i < 256; i++) mod_add(&t, &t, &t, M);
  M->r2 = t;
}

/* ---- points ------------------------------------------------------------------------------------ */

typedef struct { fe x, y; } affine;   /* Montgomery form mod p */
typedef struct { fe x, y, z; } jac;   /* z = 0: the point at infinity */

static int jac_is_inf(const jac *p) { return is_zero(p->z.v); }

/* 2P, a = -3 (dbl-2001-b); infinity stays infinity (z = 0). */
static void jac_double(jac *r, const jac *p) {
  fe delta, gamma, beta, alpha, t1, t2, t3;
  fp_sqr(&delta, &p->z);
  fp_sqr(&gamma, &p->y);
  fp_mul(&beta, &p->x, &gamma);
  fp_sub(&t1, &p->x, &delta);
  fp_add(&t2, &p->x, &delta);
  fp_mul(&t3, &t1, &t2);
  fp_add(&alpha, &t3, &t3);
  fp_add(&alpha, &alpha, &t3);
  fe z3, y1z1;
  fp_add(&y1z1, &p->y, &p->z);
  fp_sqr(&z3, &y1z1);
  fp_sub(&z3, &z3, &gamma);
  fp_sub(&z3, &z3, &delta);
  fe beta4, beta8, x3;
  fp_add(&beta4, &beta, &beta);
  fp_add(&beta4, &beta4, &beta4);
  fp_add(&beta8, &beta4, &beta4);
  fp_sqr(&x3, &alpha);
  fp_sub(&x3, &x3, &beta8);
  fe y3, g2;
  fp_sub(&t1, &beta4, &x3);
  fp_mul(&y3, &alpha, &t1);
  fp_sqr(&g2, &gamma);
  fp_add(&g2, &g2, &g2);
  fp_add(&g2, &g2, &g2);
  fp_add(&g2, &g2, &g2);
  fp_sub(&y3, &y3, &g2);
  r->x = x3;
  r->y = y3;
  r->z = z3;
}

/*
 * P + Q with Q affine, no special cases: valid when P is not infinity and P != +-Q. Returns in *h
 * and *rr the values H = U2 - X1 and R = S2 - Y1 so that a caller can detect those cases.
 */
static void jac_madd_raw(jac *out, const jac *p, const affine *q, fe *h_out, fe *r_out) {
  fe z1z1, u2, s2, h, r, hh, hhh, v, t;
  fp_sqr(&z1z1, &p->z);
  fp_mul(&u2, &q->x, &z1z1);
  fp_mul(&t, &p->z, &z1z1);
  fp_mul(&s2, &q->y, &t);
  fp_sub(&h, &u2, &p->x);
  fp_sub(&r, &s2, &p->y);
  fp_sqr(&hh, &h);
  fp_mul(&hhh, &h, &hh);
  fp_mul(&v, &p->x, &hh);
  fe x3, y3, z3;
  fp_sqr(&x3, &r);
  fp_sub(&x3, &x3, &hhh);
  fp_sub(&x3, &x3, &v);
  fp_sub(&x3, &x3, &v);
  fp_sub(&t, &v, &x3);
  fp_mul(&y3, &r, &t);
  fp_mul(&t, &p->y, &hhh);
  fp_sub(&y3, &y3, &t);
  fp_mul(&z3, &p->z, &h);
  out->x = x3;
  out->y = y3;
  out->z = z3;
  if (h_out) *h_out = h;
  if (r_out) *r_out = r;
}

/* P + Q for any P, Q (Jacobian), with the doubling, inverse and infinity cases. Variable time. */
static void jac_add(jac *out, const jac *p, const jac *q) {
  if (jac_is_inf(p)) { *out = *q; return; }
  if (jac_is_inf(q)) { *out = *p; return; }
  fe z1z1, z2z2, u1, u2, s1, s2, t, h, r;
  fp_sqr(&z1z1, &p->z);
  fp_sqr(&z2z2, &q->z);
  fp_mul(&u1, &p->x, &z2z2);
  fp_mul(&u2, &q->x, &z1z1);
  fp_mul(&t, &q->z, &z2z2);
  fp_mul(&s1, &p->y, &t);
  fp_mul(&t, &p->z, &z1z1);
  fp_mul(&s2, &q->y, &t);
  fp_sub(&h, &u2, &u1);
  fp_sub(&r, &s2, &s1);
  if (is_zero(h.v)) {
    if (is_zero(r.v)) { jac_double(out, p); return; }
    memset(out, 0, sizeof *out); /* P = -Q */
    return;
  }
  fe hh, hhh, v, x3, y3, z3;
  fp_sqr(&hh, &h);
  fp_mul(&hhh, &h, &hh);
  fp_mul(&v, &u1, &hh);
  fp_sqr(&x3, &r);
  fp_sub(&x3, &x3, &hhh);
  fp_sub(&x3, &x3, &v);
  fp_sub(&x3, &x3, &v);
  fp_sub(&t, &v, &x3);
  fp_mul(&y3, &r, &t);
  fp_mul(&t, &s1, &hhh);
  fp_sub(&y3, &y3, &t);
  fp_mul(&t, &p->z, &q->z);
  fp_mul(&z3, &t, &h);
  out->x = x3;
  out->y = y3;
  out->z = z3;
}

/* P + Q with Q affine, every case handled. Variable time (verification). */
static void jac_madd_checked(jac *out, const jac *p, const affine *q) {
  if (jac_is_inf(p)) { out->x = q->x; out->y = q->y; out->z = MP.one; return; }
  fe h, r;
  jac sum;
  jac_madd_raw(&sum, p, q, &h, &r);
  if (is_zero(h.v)) {
    if (is_zero(r.v)) { jac_double(out, p); return; }
    memset(out, 0, sizeof *out);
    return;
  }
  *out = sum;
}

/* Affine (Montgomery) of P, P not infinity. */
static void jac_to_affine(affine *a, const jac *p) {
  fe zi, zi2, zi3;
  mod_inv(&zi, &p->z, &MP);
  fp_sqr(&zi2, &zi);
  fp_mul(&zi3, &zi2, &zi);
  fp_mul(&a->x, &p->x, &zi2);
  fp_mul(&a->y, &p->y, &zi3);
}

/* ---- comb tables ------------------------------------------------------------------------------- */

#define WINDOWS 64
#define ENTRIES 15
typedef struct { affine t[WINDOWS][ENTRIES]; } comb; /* t[i][j-1] = j.16^i.P */

/* Builds the comb of P (not infinity), normalised to affine with one inversion (Montgomery's trick). */
static int comb_build(comb *c, const affine *p) {
  jac *pts = malloc(sizeof(jac) * WINDOWS * ENTRIES);
  fe *prefix = malloc(sizeof(fe) * WINDOWS * ENTRIES);
  if (!pts || !prefix) { free(pts); free(prefix); return 0; }
  jac base = {p->x, p->y, MP.one};
  for (int i = 0; i < WINDOWS; i++) {
    jac *row = pts + i * ENTRIES;
    row[0] = base;
    for (int j = 1; j < ENTRIES; j++) jac_add(&row[j], &row[j - 1], &base);
    jac_add(&base, &row[ENTRIES - 1], &base); /* 16.base */
  }
  /* The order of P is n (prime, cofactor 1) and j.16^i < n here, so no entry is infinity. */
  int total = WINDOWS * ENTRIES;
  fe acc = MP.one;
  for (int k = 0; k < total; k++) {
    prefix[k] = acc;
    fp_mul(&acc, &acc, &pts[k].z);
  }
  fe inv;
  mod_inv(&inv, &acc, &MP);
  for (int k = total - 1; k >= 0; k--) {
    fe zi, zi2, zi3;
    fp_mul(&zi, &inv, &prefix[k]);
    fp_mul(&inv, &inv, &pts[k].z);
    fp_sqr(&zi2, &zi);
    fp_mul(&zi3, &zi2, &zi);
    affine *a = &c->t[k / ENTRIES][k % ENTRIES];
    fp_mul(&a->x, &pts[k].x, &zi2);
    fp_mul(&a->y, &pts[k].y, &zi3);
  }
  free(pts);
  free(prefix);
  return 1;
}

/* The 4-bit window i of scalar k (limbs). */
static inline unsigned window(const u64 k[4], int i) { return (unsigned)(k[i / 16] >> ((i % 16) * 4)) & 15; }

/*
 * k.P for 0 < k < n, constant time in k: every window scans all 15 entries with masks, and the cases
 * "window is 0" and "accumulator is still infinity" are selected with masks. For 0 < k < n no step
 * meets P = +-Q: the accumulator's multiple is below 16^i, the entry's a multiple of 16^i, both < n.
 */
static void comb_mul_ct(jac *out, const comb *c, const u64 k[4]) {
  jac acc;
  memset(&acc, 0, sizeof acc);
  u64 acc_inf = ~(u64)0;
  for (int i = 0; i < WINDOWS; i++) {
    u64 w = window(k, i);
    affine e;
    memset(&e, 0, sizeof e);
    for (u64 j = 1; j <= ENTRIES; j++) {
      u64 m = (u64)0 - (u64)(((w ^ j) - 1) >> 63); /* all ones iff w == j (w, j < 2^63) */
      const u64 *src = (const u64 *)&c->t[i][j - 1];
      u64 *dst = (u64 *)&e;
      for (int l = 0; l < 8; l++) dst[l] |= src[l] & m;
    }
    jac sum;
    jac_madd_raw(&sum, &acc, &e, NULL, NULL);
    u64 zero = (u64)0 - (u64)((w - 1) >> 63);      /* all ones iff w == 0 */
    u64 take_sum = ~zero & ~acc_inf;
    u64 take_entry = ~zero & acc_inf;
    jac fresh = {e.x, e.y, MP.one};
    u64 *a = (u64 *)&acc;
    const u64 *s = (const u64 *)&sum, *f = (const u64 *)&fresh;
    for (int l = 0; l < 12; l++) a[l] = (a[l] & zero) | (s[l] & take_sum) | (f[l] & take_entry);
    acc_inf &= zero;
  }
  *out = acc;
}

/* k.P for any k < 2^256 (reduced or not by the caller), variable time: zero windows are skipped. */
static void comb_mul_vt(jac *out, const comb *c, const u64 k[4]) {
  jac acc;
  memset(&acc, 0, sizeof acc);
  for (int i = 0; i < WINDOWS; i++) {
    unsigned w = window(k, i);
    if (w) jac_madd_checked(&acc, &acc, &c->t[i][w - 1]);
  }
  *out = acc;
}

static comb *G_COMB;
static affine G_AFF;
static pthread_once_t INIT_ONCE = PTHREAD_ONCE_INIT;

static void global_init(void) {
  init_modulus(&MP, P_LIMBS);
  init_modulus(&MN, N_LIMBS);
  fe t;
  from_bytes(t.v, B_BYTES);
  to_mont(&B_M, &t, &MP);
  from_bytes(t.v, GX_BYTES);
  to_mont(&G_AFF.x, &t, &MP);
  from_bytes(t.v, GY_BYTES);
  to_mont(&G_AFF.y, &t, &MP);
  comb *c = malloc(sizeof *c);
  if (c && comb_build(c, &G_AFF)) G_COMB = c;
  else free(c);
}

/* Whether (x, y) (plain, both < p) is on the curve y^2 = x^3 - 3x + b. */
static int on_curve(affine *out, const u64 x[4], const u64 y[4]) {
  if (!lt(x, P_LIMBS) || !lt(y, P_LIMBS)) return 0;
  fe xm, ym, t;
  memcpy(t.v, x, 32);
  to_mont(&xm, &t, &MP);
  memcpy(t.v, y, 32);
  to_mont(&ym, &t, &MP);
  fe lhs, rhs, x2, x3, x3x;
  fp_sqr(&lhs, &ym);
  fp_sqr(&x2, &xm);
  fp_mul(&x3, &x2, &xm);
  fp_add(&x3x, &xm, &xm);
  fp_add(&x3x, &x3x, &xm);
  fp_sub(&rhs, &x3, &x3x);
  fp_add(&rhs, &rhs, &B_M);
  if (!eq(lhs.v, rhs.v)) return 0;
  out->x = xm;
  out->y = ym;
  return 1;
}

/* ---- keys -------------------------------------------------------------------------------------- */

typedef struct { fe dinv; } priv_key;               /* (1 + d)^-1 mod n, Montgomery mod n */
typedef struct { affine p; comb *table; } pub_key;  /* table built on first verification */

static void wipe(volatile uint8_t *p, size_t n) { while (n--) *p++ = 0; }

static void priv_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  wipe((volatile uint8_t *)data, sizeof(priv_key));
  free(data);
}

static void pub_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  pub_key *k = data;
  free(k->table);
  free(k);
}

/* k (plain) in [1, n-1]: r = (e + x1) mod n, s = (1+d)^-1 (k + r) - r mod n. 0 when k must be redrawn. */
static int sign_core(uint8_t out[64], const priv_key *key, const u64 e_in[4], const u64 k[4]) {
  if (is_zero(k) || !lt(k, N_LIMBS)) return 0;
  jac kg;
  comb_mul_ct(&kg, G_COMB, k);
  affine a;
  jac_to_affine(&a, &kg);
  fe x1, e, r, kr, s, kk;
  from_mont(&x1, &a.x, &MP);
  reduce_once(x1.v, x1.v, 0, N_LIMBS); /* x1 < p < 2n */
  reduce_once(e.v, e_in, 0, N_LIMBS);  /* e < 2^256 < 2n */
  mod_add(&r, &e, &x1, &MN);
  memcpy(kk.v, k, 32);
  mod_add(&kr, &kk, &r, &MN);
  if (is_zero(r.v) || is_zero(kr.v)) return 0;
  fn_mul(&s, &key->dinv, &kr); /* dinv carries 2^256: the product is plain */
  mod_sub(&s, &s, &r, &MN);
  if (is_zero(s.v)) return 0;
  to_bytes(out, r.v);
  to_bytes(out + 32, s.v);
  wipe((volatile uint8_t *)&kk, sizeof kk);
  wipe((volatile uint8_t *)&kr, sizeof kr);
  wipe((volatile uint8_t *)&kg, sizeof kg);
  return 1;
}

static int ensure_table(pub_key *key) {
  if (key->table) return 1;
  comb *c = malloc(sizeof *c);
  if (!c) return 0;
  if (!comb_build(c, &key->p)) { free(c); return 0; }
  key->table = c;
  return 1;
}

/* s.G + t.P (Jacobian). */
static void combine(jac *out, pub_key *key, const u64 s[4], const u64 t[4]) {
  jac sg, tp;
  comb_mul_vt(&sg, G_COMB, s);
  comb_mul_vt(&tp, key->table, t);
  jac_add(out, &sg, &tp);
}

/* GB/T 32918.2 §7.1 B1-B7 given e. */
static int verify_core(pub_key *key, const u64 e_in[4], const u64 r[4], const u64 s[4]) {
  if (is_zero(r) || !lt(r, N_LIMBS) || is_zero(s) || !lt(s, N_LIMBS)) return 0;
  fe rf, sf, t, e, c;
  memcpy(rf.v, r, 32);
  memcpy(sf.v, s, 32);
  mod_add(&t, &rf, &sf, &MN);
  if (is_zero(t.v)) return 0;
  jac sum;
  combine(&sum, key, s, t.v);
  if (jac_is_inf(&sum)) return 0;
  /* x1 = X/Z^2 with (e + x1) mod n = r  <=>  x1 in {c, c + n} with c = (r - e) mod n, x1 < p. */
  reduce_once(e.v, e_in, 0, N_LIMBS);
  mod_sub(&c, &rf, &e, &MN);
  fe z2, cm, cz;
  fp_sqr(&z2, &sum.z);
  to_mont(&cm, &c, &MP);
  fp_mul(&cz, &cm, &z2);
  if (eq(cz.v, sum.x.v)) return 1;
  u64 cn[4], carry = 0;
  for (int i = 0; i < 4; i++) {
    u128 a = (u128)c.v[i] + N_LIMBS[i] + carry;
    cn[i] = (u64)a;
    carry = (u64)(a >> 64);
  }
  if (carry || !lt(cn, P_LIMBS)) return 0;
  memcpy(c.v, cn, 32);
  to_mont(&cm, &c, &MP);
  fp_mul(&cz, &cm, &z2);
  return eq(cz.v, sum.x.v);
}

/* ---- N-API glue -------------------------------------------------------------------------------- */

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, "TONGBAN_SM2_NAPI", "tongban-sm2: N-API failure"); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

/* Reads args[i] as a Uint8Array of exactly `len` bytes into out; throws and returns 0 otherwise. */
static int bytes_arg(napi_env env, napi_value v, size_t len, uint8_t *out, const char *name) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  if (is_ta) {
    napi_typedarray_type type;
    size_t n;
    void *data;
    napi_value ab;
    size_t off;
    if (napi_get_typedarray_info(env, v, &type, &n, &data, &ab, &off) == napi_ok && type == napi_uint8_array && n == len) {
      memcpy(out, data, len);
      return 1;
    }
  }
  char msg[96];
  snprintf(msg, sizeof msg, "tongban-sm2: %s must be a Uint8Array of %u bytes", name, (unsigned)len);
  napi_throw_type_error(env, "TONGBAN_SM2_ARGUMENT", msg);
  return 0;
}

static void *external_arg(napi_env env, napi_value v, const napi_type_tag *tag, const char *name) {
  bool ok = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, v, tag, &ok) != napi_ok || !ok || napi_get_value_external(env, v, &data) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "tongban-sm2: %s must be a handle from this addon", name);
    napi_throw_type_error(env, "TONGBAN_SM2_ARGUMENT", msg);
    return NULL;
  }
  return data;
}

static const napi_type_tag PRIV_TAG = {0x746f6e6762616e31ULL, 0x736d3270726976ULL};
static const napi_type_tag PUB_TAG = {0x746f6e6762616e32ULL, 0x736d32707562ULL};

static napi_value buffer_of(napi_env env, const uint8_t *data, size_t len) {
  napi_value out;
  void *copy;
  if (napi_create_buffer_copy(env, len, data, &copy, &out) != napi_ok) return NULL;
  return out;
}

static napi_value null_value(napi_env env) {
  napi_value v;
  napi_get_null(env, &v);
  return v;
}

static napi_value point_value(napi_env env, const jac *p) {
  if (jac_is_inf(p)) return null_value(env);
  affine a;
  jac_to_affine(&a, p);
  fe x, y;
  from_mont(&x, &a.x, &MP);
  from_mont(&y, &a.y, &MP);
  uint8_t b[64];
  to_bytes(b, x.v);
  to_bytes(b + 32, y.v);
  return buffer_of(env, b, 64);
}

/* privateKey(d: 32 bytes) -> handle; d in [1, n-2]. */
static napi_value js_private_key(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  uint8_t db[32];
  if (argc < 1 || !bytes_arg(env, args[0], 32, db, "d")) return NULL;
  fe d, d1, dm, one = {{1, 0, 0, 0}};
  from_bytes(d.v, db);
  wipe(db, sizeof db);
  u64 nm1[4];
  memcpy(nm1, N_LIMBS, 32);
  nm1[0] -= 1; /* n - 1; n is odd */
  if (is_zero(d.v) || !lt(d.v, nm1)) {
    wipe((volatile uint8_t *)&d, sizeof d);
    napi_throw_range_error(env, "SM2_KEY_INVALID", "private key: d must be in [1, n-2]");
    return NULL;
  }
  priv_key *k = malloc(sizeof *k);
  if (!k) { napi_throw_error(env, NULL, "tongban-sm2: out of memory"); return NULL; }
  mod_add(&d1, &d, &one, &MN); /* 1 + d < n */
  to_mont(&dm, &d1, &MN);
  fe inv;
  mod_inv(&inv, &dm, &MN); /* exponentiation in Montgomery form: ((1+d)R)^(n-2) -> (1+d)^-1 R */
  k->dinv = inv;
  wipe((volatile uint8_t *)&d, sizeof d);
  wipe((volatile uint8_t *)&d1, sizeof d1);
  wipe((volatile uint8_t *)&dm, sizeof dm);
  wipe((volatile uint8_t *)&inv, sizeof inv);
  napi_value out;
  if (napi_create_external(env, k, priv_finalize, NULL, &out) != napi_ok || napi_type_tag_object(env, out, &PRIV_TAG) != napi_ok) {
    priv_finalize(env, k, NULL);
    napi_throw_error(env, NULL, "tongban-sm2: cannot create the key handle");
    return NULL;
  }
  return out;
}

/* sign(key, e: 32 bytes, k: 32 bytes) -> r||s (64 bytes), or null: draw another k. */
static napi_value js_sign(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 3) { napi_throw_type_error(env, NULL, "tongban-sm2: sign(key, e, k)"); return NULL; }
  priv_key *key = external_arg(env, args[0], &PRIV_TAG, "key");
  if (!key) return NULL;
  uint8_t eb[32], kb[32], out[64];
  if (!bytes_arg(env, args[1], 32, eb, "e") || !bytes_arg(env, args[2], 32, kb, "k")) return NULL;
  u64 e[4], k[4];
  from_bytes(e, eb);
  from_bytes(k, kb);
  int ok = sign_core(out, key, e, k);
  wipe(kb, sizeof kb);
  wipe((volatile uint8_t *)k, sizeof k);
  return ok ? buffer_of(env, out, 64) : null_value(env);
}

/* publicKey(x: 32 bytes, y: 32 bytes) -> handle, or null if (x, y) is not a point of the curve. */
static napi_value js_public_key(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  uint8_t xb[32], yb[32];
  if (argc < 2 || !bytes_arg(env, args[0], 32, xb, "x") || !bytes_arg(env, args[1], 32, yb, "y")) return NULL;
  u64 x[4], y[4];
  from_bytes(x, xb);
  from_bytes(y, yb);
  affine a;
  if (!on_curve(&a, x, y)) return null_value(env); /* (0, 0) is not on the curve: b != 0 */
  pub_key *k = calloc(1, sizeof *k);
  if (!k) { napi_throw_error(env, NULL, "tongban-sm2: out of memory"); return NULL; }
  k->p = a;
  napi_value out;
  if (napi_create_external(env, k, pub_finalize, NULL, &out) != napi_ok || napi_type_tag_object(env, out, &PUB_TAG) != napi_ok) {
    pub_finalize(env, k, NULL);
    napi_throw_error(env, NULL, "tongban-sm2: cannot create the key handle");
    return NULL;
  }
  return out;
}

/* verify(key, e: 32 bytes, sig: r||s 64 bytes) -> boolean. */
static napi_value js_verify(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 3) { napi_throw_type_error(env, NULL, "tongban-sm2: verify(key, e, sig)"); return NULL; }
  pub_key *key = external_arg(env, args[0], &PUB_TAG, "key");
  if (!key) return NULL;
  uint8_t eb[32], sb[64];
  if (!bytes_arg(env, args[1], 32, eb, "e") || !bytes_arg(env, args[2], 64, sb, "sig")) return NULL;
  if (!ensure_table(key)) { napi_throw_error(env, NULL, "tongban-sm2: out of memory"); return NULL; }
  u64 e[4], r[4], s[4];
  from_bytes(e, eb);
  from_bytes(r, sb);
  from_bytes(s, sb + 32);
  napi_value out;
  CHECK(napi_get_boolean(env, verify_core(key, e, r, s), &out));
  return out;
}

/* Test-only entry points (__test): the point operations behind sign and verify. */

static int point_arg(napi_env env, napi_value v, jac *out, const char *name) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null) { memset(out, 0, sizeof *out); return 1; }
  uint8_t b[64];
  if (!bytes_arg(env, v, 64, b, name)) return 0;
  u64 x[4], y[4];
  from_bytes(x, b);
  from_bytes(y, b + 32);
  affine a;
  if (!on_curve(&a, x, y)) { napi_throw_range_error(env, NULL, "tongban-sm2: point not on the curve"); return 0; }
  out->x = a.x;
  out->y = a.y;
  out->z = MP.one;
  return 1;
}

/* __test.add(P, Q): P + Q (each 64 bytes x||y or null for infinity) by the general addition. */
static napi_value js_test_add(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  jac p, q, r;
  if (argc < 2 || !point_arg(env, args[0], &p, "P") || !point_arg(env, args[1], &q, "Q")) return NULL;
  /* Q is given a Z other than 1 (Q = (X z^2, Y z^3, z) with z = 2) so that the formulas see Z != 1. */
  if (!jac_is_inf(&q)) {
    fe z2, zz, zzz;
    fp_add(&z2, &MP.one, &MP.one);
    fp_sqr(&zz, &z2);
    fp_mul(&zzz, &zz, &z2);
    fp_mul(&q.x, &q.x, &zz);
    fp_mul(&q.y, &q.y, &zzz);
    q.z = z2;
  }
  jac_add(&r, &p, &q);
  return point_value(env, &r);
}

/* __test.maddChecked(P, Q): P + Q with Q affine (Q not infinity), the verification's mixed addition. */
static napi_value js_test_madd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  jac p, q, r;
  if (argc < 2 || !point_arg(env, args[0], &p, "P") || !point_arg(env, args[1], &q, "Q")) return NULL;
  if (jac_is_inf(&q)) { napi_throw_type_error(env, NULL, "tongban-sm2: Q must not be infinity"); return NULL; }
  affine qa = {q.x, q.y};
  jac_madd_checked(&r, &p, &qa);
  return point_value(env, &r);
}

/* __test.mulG(k): k.G by the constant-time comb (k in [1, n-1]); null for other k. */
static napi_value js_test_mul_g(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  uint8_t kb[32];
  if (argc < 1 || !bytes_arg(env, args[0], 32, kb, "k")) return NULL;
  u64 k[4];
  from_bytes(k, kb);
  if (is_zero(k) || !lt(k, N_LIMBS)) return null_value(env);
  jac r;
  comb_mul_ct(&r, G_COMB, k);
  return point_value(env, &r);
}

/* __test.combine(key, s, t): s.G + t.P by the verification's variable-time combs; null = infinity. */
static napi_value js_test_combine(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 3) { napi_throw_type_error(env, NULL, "tongban-sm2: combine(key, s, t)"); return NULL; }
  pub_key *key = external_arg(env, args[0], &PUB_TAG, "key");
  if (!key) return NULL;
  uint8_t sb[32], tb[32];
  if (!bytes_arg(env, args[1], 32, sb, "s") || !bytes_arg(env, args[2], 32, tb, "t")) return NULL;
  if (!ensure_table(key)) { napi_throw_error(env, NULL, "tongban-sm2: out of memory"); return NULL; }
  u64 s[4], t[4];
  from_bytes(s, sb);
  from_bytes(t, tb);
  jac r;
  combine(&r, key, s, t);
  return point_value(env, &r);
}

static napi_value define(napi_env env, napi_value obj, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, obj, name, fn) != napi_ok) return NULL;
  return fn;
}

NAPI_MODULE_INIT() {
  pthread_once(&INIT_ONCE, global_init);
  if (!G_COMB) {
    napi_throw_error(env, NULL, "tongban-sm2: cannot allocate the base-point table");
    return NULL;
  }
  napi_value test;
  if (napi_create_object(env, &test) != napi_ok) return NULL;
  if (!define(env, exports, "privateKey", js_private_key) || !define(env, exports, "sign", js_sign) ||
      !define(env, exports, "publicKey", js_public_key) || !define(env, exports, "verify", js_verify) ||
      !define(env, test, "add", js_test_add) || !define(env, test, "maddChecked", js_test_madd) ||
      !define(env, test, "mulG", js_test_mul_g) || !define(env, test, "combine", js_test_combine))
    return NULL;
  if (napi_set_named_property(env, exports, "__test", test) != napi_ok) return NULL;
  return exports;
}
