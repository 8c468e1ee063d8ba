// Single-core streaming bandwidth probe quoted in RESULTS.md section 184
// (r50x1): thread-CPU medians of 30 passes over a buffer of N bytes (default
// 25088 * 256, one batch-8 ResNet-50 tensor at 56 x 56 x 256): plain 64-byte
// stores, non-temporal stores, loads, load + store, load + non-temporal store.
// Build: g++ -O2 -mavx512f -mavx512bw benchmarks/r50x1_stream_bw.cc -o /tmp/r50x1_bw
// Run:   [N=bytes] /tmp/r50x1_bw
#include <immintrin.h>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <algorithm>
#include <vector>
#include <cstdint>
#include <cstdlib>
static double tcpu(){timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(){
  const size_t n=getenv("N")?(size_t)atol(getenv("N")):(size_t)25088*256; int8_t* a=(int8_t*)aligned_alloc(64,n); int8_t* b=(int8_t*)aligned_alloc(64,n);
  for(size_t i=0;i<n;i++){a[i]=i;b[i]=i*3;}
  std::vector<double> w,wnt,r,rw,rwnt;
  for(int it=0;it<30;it++){
    double t0=tcpu(); for(size_t i=0;i<n;i+=64) _mm512_store_si512(b+i,_mm512_set1_epi8(it)); w.push_back(tcpu()-t0);
    t0=tcpu(); for(size_t i=0;i<n;i+=64) _mm512_stream_si512((__m512i*)(b+i),_mm512_set1_epi8(it)); _mm_sfence(); wnt.push_back(tcpu()-t0);
    t0=tcpu(); __m512i s=_mm512_setzero_si512(); for(size_t i=0;i<n;i+=64) s=_mm512_add_epi8(s,_mm512_load_si512(a+i)); r.push_back(tcpu()-t0); if(_mm512_reduce_add_epi32(s)==7)puts("");
    t0=tcpu(); for(size_t i=0;i<n;i+=64) _mm512_store_si512(b+i,_mm512_add_epi8(_mm512_load_si512(a+i),_mm512_set1_epi8(1))); rw.push_back(tcpu()-t0);
    t0=tcpu(); for(size_t i=0;i<n;i+=64) _mm512_stream_si512((__m512i*)(b+i),_mm512_add_epi8(_mm512_load_si512(a+i),_mm512_set1_epi8(1))); _mm_sfence(); rwnt.push_back(tcpu()-t0);
  }
  auto med=[](std::vector<double>v){std::sort(v.begin(),v.end());return v[v.size()/2]*1e6;};
  printf("6.4MB write %.0f us, NT write %.0f, read %.0f, read+write %.0f, read+NTwrite %.0f\n",med(w),med(wnt),med(r),med(rw),med(rwnt));
}
