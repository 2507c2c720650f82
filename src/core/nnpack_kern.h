/* nnpack_kern.h - the body of the packed forward pass, included by nnpack.c
 * once per code path with:
 *   NNP_SFX     suffix of the path's functions (generic, avx2, avx512)
 *   NNP_L       doubles per vector register (2, 4, 8)
 *   NNP_TARGET  the path's function attribute (empty for generic)
 *   NNP_BLK     outputs per block (8 or 16; the padding is a multiple of 16)
 *   NNP_MAC     NNP_MAC(acc, w, x): acc + w * x for a vector w and a broadcast
 *               x, fused where the unit has FMA (the product is exact, so
 *               fused or not the sum rounds the same)
 * A block of NNP_BLK outputs is NNP_BLK / NNP_L vectors. Each output is
 * computed by the same operations in the same order whatever NNP_L is: the
 * paths differ in how many outputs share an instruction, never in the bits
 * of a result. Not a public header. */
#define NNP_CAT2(a, b) a##_##b
#define NNP_CAT(a, b) NNP_CAT2(a, b)
#define NNP_F(name) NNP_CAT(name, NNP_SFX)
#define NNP_NV (NNP_BLK / NNP_L)
#define NNP_FN static inline NNP_TARGET __attribute__((always_inline))

typedef double NNP_F(vd) __attribute__((vector_size(NNP_L * 8)));
typedef int64_t NNP_F(vl) __attribute__((vector_size(NNP_L * 8)));
typedef float NNP_F(vf) __attribute__((vector_size(NNP_L * 4)));
typedef int32_t NNP_F(vi) __attribute__((vector_size(NNP_L * 4)));

NNP_FN NNP_F(vd) NNP_F(load)(const double *p)
{
	NNP_F(vd) v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* exp(a) for a <= 0: see nnp_expf_neg in nnpack.c for the method. */
NNP_FN NNP_F(vf) NNP_F(expf_neg)(NNP_F(vf) a)
{
	NNP_F(vd) x = __builtin_convertvector(a, NNP_F(vd));
	NNP_F(vd) floor = {0};
	floor -= 150.0;
	NNP_F(vl) low = x < floor;
	x = (NNP_F(vd))((low & (NNP_F(vl))floor) | (~low & (NNP_F(vl))x));
	NNP_F(vd) t = x * 1.4426950408889634; /* log2(e) */
	NNP_F(vd) u = t + 0x1.8p52;           /* rounded to the nearest integer n */
	NNP_F(vd) n = u - 0x1.8p52;
	NNP_F(vd) r = (x - n * 0x1.62e42fefa3800p-1) - n * 0x1.ef35793c76730p-45;
	/* the Taylor polynomial by Estrin's scheme: short dependency chains */
	NNP_F(vd) r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
	NNP_F(vd) q01 = r + 1.0, q23 = r * (1.0 / 6.0) + 0.5;
	NNP_F(vd) q45 = r * (1.0 / 120.0) + 1.0 / 24.0, q67 = r * (1.0 / 5040.0) + 1.0 / 720.0;
	NNP_F(vd) q89 = r * (1.0 / 362880.0) + 1.0 / 40320.0;
	NNP_F(vd) qab = r * (1.0 / 39916800.0) + 1.0 / 3628800.0;
	NNP_F(vd) q = (q01 + r2 * q23) + r4 * (q45 + r2 * q67) + r8 * (q89 + r2 * qab);
	/* the low bits of u hold n; 2^n as a double is (n + 1023) << 52 */
	NNP_F(vl) bits = ((NNP_F(vl))u - (int64_t)0x4338000000000000 + 1023) << 52;
	return __builtin_convertvector(q * (NNP_F(vd))bits, NNP_F(vf));
}

/* The sums s (one vector of a block) through the activation into y, with
 * the float operations of nn.c's activation; a sigmoid layer gets its
 * pre-activation here and sigmoid_all afterwards. */
NNP_FN void NNP_F(act)(nn_act act, NNP_F(vd) s, float *restrict y)
{
	NNP_F(vf) z = __builtin_convertvector(s, NNP_F(vf));
	if (act == NN_RELU)
		z = (NNP_F(vf))((NNP_F(vi))z & (z > 0.0f)); /* z > 0 ? z : +0 (NaN: +0) */
	memcpy(y, &z, sizeof z);
}

/* y[0..n) (n a multiple of NNP_L) through the logistic function, in place:
 * 1 / (1 + e^-z) for z >= 0, else e^z / (1 + e^z), as nn.c computes it.
 * The vectors are independent, so their polynomials overlap. */
NNP_FN void NNP_F(sigmoid_all)(float *restrict y, int n)
{
	for (int k = 0; k < n; k += NNP_L) {
		NNP_F(vf) z, one = {0};
		NNP_F(vi) sign = {0};
		memcpy(&z, y + k, sizeof z);
		one += 1.0f;
		sign |= INT32_MIN;
		NNP_F(vi) pos = z >= 0.0f;
		/* -|z|; NaN stays NaN and takes the e / (1 + e) side */
		NNP_F(vf) e = NNP_F(expf_neg)((NNP_F(vf))((NNP_F(vi))z | sign));
		NNP_F(vf) num = (NNP_F(vf))((pos & (NNP_F(vi))one) | (~pos & (NNP_F(vi))e));
		z = num / (one + e);
		memcpy(y + k, &z, sizeof z);
	}
}

/* One layer for one window: y[o] = act(b[o] + sum_i W[o][i] x[i]) with the
 * four partial sums of nnpack.h. wt is W^T with rows of op (padded) doubles,
 * the bias follows at wt + in * op. */
NNP_FN void NNP_F(layer)(const double *restrict wt, const float *restrict x, int in, int op,
			 nn_act act, float *restrict y)
{
	const double *b = wt + (size_t)in * (size_t)op;
	for (int ob = 0; ob < op; ob += NNP_BLK) {
		NNP_F(vd) p0[NNP_NV] = {0}, p1[NNP_NV] = {0}, p2[NNP_NV] = {0}, p3[NNP_NV] = {0};
		const double *w = wt + ob;
		int i = 0;
		for (; i + 4 <= in; i += 4) {
			const double *w0 = w + (size_t)i * (size_t)op;
			double x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
			for (int v = 0; v < NNP_NV; v++) {
				p0[v] = NNP_MAC(p0[v], NNP_F(load)(w0 + v * NNP_L), x0);
				p1[v] = NNP_MAC(p1[v], NNP_F(load)(w0 + op + v * NNP_L), x1);
				p2[v] = NNP_MAC(p2[v], NNP_F(load)(w0 + 2 * op + v * NNP_L), x2);
				p3[v] = NNP_MAC(p3[v], NNP_F(load)(w0 + 3 * op + v * NNP_L), x3);
			}
		}
		/* the last in % 4 inputs join their own partial sums */
		const double *w0 = w + (size_t)i * (size_t)op;
		for (int v = 0; v < NNP_NV; v++) {
			if (i < in)
				p0[v] = NNP_MAC(p0[v], NNP_F(load)(w0 + v * NNP_L), (double)x[i]);
			if (i + 1 < in)
				p1[v] = NNP_MAC(p1[v], NNP_F(load)(w0 + op + v * NNP_L), (double)x[i + 1]);
			if (i + 2 < in)
				p2[v] = NNP_MAC(p2[v], NNP_F(load)(w0 + 2 * op + v * NNP_L), (double)x[i + 2]);
			NNP_F(act)(act, NNP_F(load)(b + ob + v * NNP_L) + ((p0[v] + p1[v]) + (p2[v] + p3[v])),
				   y + ob + v * NNP_L);
		}
	}
	if (act == NN_SIGMOID)
		NNP_F(sigmoid_all)(y, op);
}

/* layer for two windows (xa -> ya, xb -> yb), each weight vector loaded
 * once for both; every sum in the same order as layer. */
NNP_FN void NNP_F(layer2)(const double *restrict wt, const float *restrict xa,
			  const float *restrict xb, int in, int op, nn_act act, float *restrict ya,
			  float *restrict yb)
{
	const double *b = wt + (size_t)in * (size_t)op;
	for (int ob = 0; ob < op; ob += NNP_BLK) {
		NNP_F(vd) a0[NNP_NV] = {0}, a1[NNP_NV] = {0}, a2[NNP_NV] = {0}, a3[NNP_NV] = {0};
		NNP_F(vd) b0[NNP_NV] = {0}, b1[NNP_NV] = {0}, b2[NNP_NV] = {0}, b3[NNP_NV] = {0};
		const double *w = wt + ob;
		int i = 0;
		for (; i + 4 <= in; i += 4) {
			const double *w0 = w + (size_t)i * (size_t)op;
			double u0 = xa[i], u1 = xa[i + 1], u2 = xa[i + 2], u3 = xa[i + 3];
			double v0 = xb[i], v1 = xb[i + 1], v2 = xb[i + 2], v3 = xb[i + 3];
			for (int v = 0; v < NNP_NV; v++) {
				NNP_F(vd) c0 = NNP_F(load)(w0 + v * NNP_L);
				NNP_F(vd) c1 = NNP_F(load)(w0 + op + v * NNP_L);
				NNP_F(vd) c2 = NNP_F(load)(w0 + 2 * op + v * NNP_L);
				NNP_F(vd) c3 = NNP_F(load)(w0 + 3 * op + v * NNP_L);
				a0[v] = NNP_MAC(a0[v], c0, u0);
				b0[v] = NNP_MAC(b0[v], c0, v0);
				a1[v] = NNP_MAC(a1[v], c1, u1);
				b1[v] = NNP_MAC(b1[v], c1, v1);
				a2[v] = NNP_MAC(a2[v], c2, u2);
				b2[v] = NNP_MAC(b2[v], c2, v2);
				a3[v] = NNP_MAC(a3[v], c3, u3);
				b3[v] = NNP_MAC(b3[v], c3, v3);
			}
		}
		const double *w0 = w + (size_t)i * (size_t)op;
		for (int v = 0; v < NNP_NV; v++) {
			if (i < in) {
				NNP_F(vd) c = NNP_F(load)(w0 + v * NNP_L);
				a0[v] = NNP_MAC(a0[v], c, (double)xa[i]);
				b0[v] = NNP_MAC(b0[v], c, (double)xb[i]);
			}
			if (i + 1 < in) {
				NNP_F(vd) c = NNP_F(load)(w0 + op + v * NNP_L);
				a1[v] = NNP_MAC(a1[v], c, (double)xa[i + 1]);
				b1[v] = NNP_MAC(b1[v], c, (double)xb[i + 1]);
			}
			if (i + 2 < in) {
				NNP_F(vd) c = NNP_F(load)(w0 + 2 * op + v * NNP_L);
				a2[v] = NNP_MAC(a2[v], c, (double)xa[i + 2]);
				b2[v] = NNP_MAC(b2[v], c, (double)xb[i + 2]);
			}
			NNP_F(vd) bias = NNP_F(load)(b + ob + v * NNP_L);
			NNP_F(act)(act, bias + ((a0[v] + a1[v]) + (a2[v] + a3[v])), ya + ob + v * NNP_L);
			NNP_F(act)(act, bias + ((b0[v] + b1[v]) + (b2[v] + b3[v])), yb + ob + v * NNP_L);
		}
	}
	if (act == NN_SIGMOID) {
		NNP_F(sigmoid_all)(ya, op);
		NNP_F(sigmoid_all)(yb, op);
	}
}

/* The MSE of y (padded) against x (d floats): eight partial sums (i mod 8,
 * each in increasing i) added as ((s0 + s1) + (s2 + s3)) + ((s4 + s5) +
 * (s6 + s7)), then / d; err[i] the squared error of element i. */
NNP_FN float NNP_F(mse)(const float *restrict y, const float *restrict x, int d,
			float *restrict err)
{
	NNP_F(vd) acc[8 / NNP_L] = {0};
	double lane[8];
	int i = 0;
	for (; i + 8 <= d; i += 8) {
		for (int v = 0; v < 8 / NNP_L; v++) {
			NNP_F(vf) yf, xf;
			memcpy(&yf, y + i + v * NNP_L, sizeof yf);
			memcpy(&xf, x + i + v * NNP_L, sizeof xf);
			NNP_F(vd) diff = __builtin_convertvector(yf, NNP_F(vd)) -
					 __builtin_convertvector(xf, NNP_F(vd));
			NNP_F(vd) sq = diff * diff;
			if (err) {
				NNP_F(vf) e = __builtin_convertvector(sq, NNP_F(vf));
				memcpy(err + i + v * NNP_L, &e, sizeof e);
			}
			acc[v] += sq;
		}
	}
	memcpy(lane, acc, sizeof lane);
	for (int k = 0; i + k < d; k++) {
		double diff = (double)y[i + k] - x[i + k];
		double sq = diff * diff;
		if (err)
			err[i + k] = (float)sq;
		lane[k] += sq;
	}
	double sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
		     ((lane[4] + lane[5]) + (lane[6] + lane[7]));
	return (float)(sum / d);
}

static NNP_TARGET float NNP_F(nnp_fwd)(const nn_pack *p, const float *x, float *scratch,
				       float *err)
{
	const float *in = x;
	float *out = scratch;
	for (int l = 0; l < p->n_layers; l++) {
		NNP_F(layer)(p->w + p->off[l], in, p->sizes[l], p->pad[l + 1], p->act[l], out);
		in = out;
		out += p->pad[l + 1];
	}
	return NNP_F(mse)(in, x, p->sizes[0], err);
}

static NNP_TARGET void NNP_F(nnp_pair)(const nn_pack *p, const float *xa, const float *xb,
				       float *scratch, float *sa, float *sb, float *ea, float *eb)
{
	const float *ia = xa, *ib = xb;
	float *oa = scratch, *obuf = scratch + nn_pack_scratch_floats(p);
	for (int l = 0; l < p->n_layers; l++) {
		NNP_F(layer2)(p->w + p->off[l], ia, ib, p->sizes[l], p->pad[l + 1], p->act[l], oa,
			      obuf);
		ia = oa;
		ib = obuf;
		oa += p->pad[l + 1];
		obuf += p->pad[l + 1];
	}
	*sa = NNP_F(mse)(ia, xa, p->sizes[0], ea);
	*sb = NNP_F(mse)(ib, xb, p->sizes[0], eb);
}

#undef NNP_FN
#undef NNP_NV
#undef NNP_F
#undef NNP_CAT
#undef NNP_CAT2
