// RESULTS.md section 233: the table form's lookup of 8 float entries on
// AVX2 (the SE gate's x read through a 256-entry float table), four ways on
// MobileNetV3's 14 x 14 x 480 x 8 gate input, thread CPU time, minimum of 30
// alternated runs: one vgatherdps per 8 channels (gather8), four per 32 with
// one 32-byte store (gather32), eight scalar loads + inserts per 8
// (scalar8, kept: avx2/s8_convert.h look_up8), the same per 32 (scalar32),
// and the linear form for scale (linear: no table). Checks the three table
// variants give the same bytes.
//   g++ -O2 -mavx2 -mfma -o /tmp/tl benchmarks/avx2gap_table_lookup.cc && /tmp/tl
#include <immintrin.h>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <vector>
#include <ctime>
#include <cmath>
static inline __m128i load_s8x8(const int8_t* p){int64_t v; std::memcpy(&v,p,8); return _mm_cvtsi64_si128(v);}
static inline void store_s8x8(int8_t* p, __m128i v){int64_t b=_mm_cvtsi128_si64(v); std::memcpy(p,&b,8);}
static inline __m256 clamp_ps(__m256 t, __m256 lo, __m256 hi){ t=_mm256_blendv_ps(lo,t,_mm256_cmp_ps(t,lo,_CMP_GE_OQ)); return _mm256_blendv_ps(hi,t,_mm256_cmp_ps(t,hi,_CMP_LE_OQ));}
static inline __m128i to_s8x8(__m256 t){const __m256i v=_mm256_cvtps_epi32(t); const __m128i w=_mm_packs_epi32(_mm256_castsi256_si128(v),_mm256_extracti128_si256(v,1)); return _mm_packs_epi16(w,w);}
static inline __m256i to_s8x32(__m256 t0,__m256 t1,__m256 t2,__m256 t3){const __m256i a=_mm256_packs_epi32(_mm256_cvtps_epi32(t0),_mm256_cvtps_epi32(t1));const __m256i b=_mm256_packs_epi32(_mm256_cvtps_epi32(t2),_mm256_cvtps_epi32(t3));const __m256i c=_mm256_packs_epi16(a,b);return _mm256_permutevar8x32_epi32(c,_mm256_setr_epi32(0,4,1,5,2,6,3,7));}
__attribute__((noinline)) void g8(int64_t rows,int64_t C,const int8_t*x,const float*table,const float*g,float inv_scale,int8_t*y){
 const float* centre=table+128; const __m256 inv=_mm256_set1_ps(inv_scale),lo=_mm256_set1_ps(-128.f),hi=_mm256_set1_ps(127.f);
 for(int64_t r=0;r<rows;++r,x+=C,y+=C) for(int64_t c=0;c<C;c+=8){ __m256 v=_mm256_i32gather_ps(centre,_mm256_cvtepi8_epi32(load_s8x8(x+c)),4); __m256 t=_mm256_mul_ps(_mm256_mul_ps(v,_mm256_loadu_ps(g+c)),inv); store_s8x8(y+c,to_s8x8(clamp_ps(t,lo,hi)));}}
__attribute__((noinline)) void g32(int64_t rows,int64_t C,const int8_t*x,const float*table,const float*g,float inv_scale,int8_t*y){
 const float* centre=table+128; const __m256 inv=_mm256_set1_ps(inv_scale),lo=_mm256_set1_ps(-128.f),hi=_mm256_set1_ps(127.f);
 for(int64_t r=0;r<rows;++r,x+=C,y+=C) for(int64_t c=0;c<C;c+=32){ __m256i xi=_mm256_loadu_si256((const __m256i*)(x+c)); __m256 t[4];
  for(int q=0;q<4;++q){ __m256i idx=_mm256_cvtepi8_epi32(q==0?_mm256_castsi256_si128(xi):q==1?_mm_srli_si128(_mm256_castsi256_si128(xi),8):q==2?_mm256_extracti128_si256(xi,1):_mm_srli_si128(_mm256_extracti128_si256(xi,1),8));
   __m256 v=_mm256_i32gather_ps(centre,idx,4); t[q]=clamp_ps(_mm256_mul_ps(_mm256_mul_ps(v,_mm256_loadu_ps(g+c+8*q)),inv),lo,hi);}
  _mm256_storeu_si256((__m256i*)(y+c),to_s8x32(t[0],t[1],t[2],t[3]));}}
__attribute__((noinline)) void sc(int64_t rows,int64_t C,const int8_t*x,const float*table,const float*g,float inv_scale,int8_t*y){
 const float* centre=table+128; const __m256 inv=_mm256_set1_ps(inv_scale),lo=_mm256_set1_ps(-128.f),hi=_mm256_set1_ps(127.f);
 for(int64_t r=0;r<rows;++r,x+=C,y+=C) for(int64_t c=0;c<C;c+=8){ const int8_t* p=x+c; __m256 v=_mm256_setr_ps(centre[p[0]],centre[p[1]],centre[p[2]],centre[p[3]],centre[p[4]],centre[p[5]],centre[p[6]],centre[p[7]]); __m256 t=_mm256_mul_ps(_mm256_mul_ps(v,_mm256_loadu_ps(g+c)),inv); store_s8x8(y+c,to_s8x8(clamp_ps(t,lo,hi)));}}
static inline __m256 look8(const float* centre, const int8_t* p){ return _mm256_setr_ps(centre[p[0]],centre[p[1]],centre[p[2]],centre[p[3]],centre[p[4]],centre[p[5]],centre[p[6]],centre[p[7]]); }
__attribute__((noinline)) void sc32(int64_t rows,int64_t C,const int8_t*x,const float*table,const float*g,float inv_scale,int8_t*y){
 const float* centre=table+128; const __m256 inv=_mm256_set1_ps(inv_scale),lo=_mm256_set1_ps(-128.f),hi=_mm256_set1_ps(127.f);
 for(int64_t r=0;r<rows;++r,x+=C,y+=C) for(int64_t c=0;c<C;c+=32){ __m256 t[4];
  for(int q=0;q<4;++q){ __m256 v=look8(centre,x+c+8*q); t[q]=clamp_ps(_mm256_mul_ps(_mm256_mul_ps(v,_mm256_loadu_ps(g+c+8*q)),inv),lo,hi);}
  _mm256_storeu_si256((__m256i*)(y+c),to_s8x32(t[0],t[1],t[2],t[3]));}}
__attribute__((noinline)) void lin(int64_t rows,int64_t C,const int8_t*x,const float*table,const float*g,float inv_scale,int8_t*y){
 const __m256 lo=_mm256_set1_ps(-128.f),hi=_mm256_set1_ps(127.f);
 for(int64_t r=0;r<rows;++r,x+=C,y+=C) for(int64_t c=0;c<C;c+=8){ __m256 t=_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(load_s8x8(x+c))),_mm256_loadu_ps(g+c)); store_s8x8(y+c,to_s8x8(clamp_ps(t,lo,hi)));}}
double cpu(){timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t); return t.tv_sec+1e-9*t.tv_nsec;}
int main(){ const int64_t rows=196*8,C=480; std::vector<int8_t> x(rows*C),y(rows*C),y2(rows*C); std::vector<float> table(256),g(C);
 for(size_t i=0;i<x.size();++i) x[i]=(int8_t)((i*2654435761u)>>24); for(int i=0;i<256;++i) table[i]=0.03f*(i-128)*(i>100?1:0.1f); for(int c=0;c<C;++c) g[c]=0.01f*(c%97);
 using F=void(*)(int64_t,int64_t,const int8_t*,const float*,const float*,float,int8_t*); F fs[5]={g8,g32,sc,lin,sc32}; const char* n[5]={"gather8","gather32","scalar8","linear","scalar32"};
 double best[5]={1e9,1e9,1e9,1e9,1e9};
 for(int it=0;it<30;++it) for(int k=0;k<5;++k){ double t0=cpu(); fs[k](rows,C,x.data(),table.data(),g.data(),7.5f,y.data()); double t=cpu()-t0; if(t<best[k])best[k]=t; }
 g8(rows,C,x.data(),table.data(),g.data(),7.5f,y.data()); g32(rows,C,x.data(),table.data(),g.data(),7.5f,y2.data()); printf("g8==g32 %d\n", (int)(y==y2)); sc(rows,C,x.data(),table.data(),g.data(),7.5f,y2.data()); printf("g8==sc %d\n", (int)(y==y2)); sc32(rows,C,x.data(),table.data(),g.data(),7.5f,y2.data()); printf("g8==sc32 %d\n", (int)(y==y2));
 for(int k=0;k<5;++k) printf("%-9s %.3f ms\n",n[k],best[k]*1e3);}
