# masked_probes.cc compiled the way the x86 kernels are, once per
# compiler x kernel flag set x optimisation level, for
# test_masked_intrinsics.cc (included by tests/cpp/CMakeLists.txt).
#
# The flag sets are csrc/kernels/x86/CMakeLists.txt's (int8rt_add_x86_isa
# and its per-file additions; tests/test_masked_intrinsics.py checks they
# still match), with the library's INT8RT_COMMON_FLAGS. The levels: -O3
# (the release build), -Og (the checking build, tools/sanitize_tests.sh),
# -O2, and -O0, where every mask goes through memory. Compilers: the test
# build's, and clang++ where it is installed (the fuzz targets' compiler,
# which can build the library too). Custom commands, not targets: these
# objects are the only ones in the C++ tests not at -O1 (the point of them),
# and one compiler per CMake project could not build both.
#
# Each object exports one C function, its table; the variant list for the
# test is written to masked_probe_variants.inc in the build folder.
set(_masked_dir ${CMAKE_CURRENT_LIST_DIR})
set(_masked_src ${_masked_dir}/masked_probes.cc)
set(_masked_common -std=c++17 -Wall -Wextra -ffp-contract=off -fno-fast-math -fno-trapping-math
    -fPIC -fvisibility=hidden)
set(_avx512 "-mavx512f -mavx512bw -mavx512vl -mavx512dq")
set(_amx "-mamx-tile -mamx-int8 -mamx-bf16 ${_avx512} -mavx512vnni")
# name, needs VBMI, needs BF16, needs VNNI, flags (as in csrc/kernels/x86/CMakeLists.txt)
set(_masked_sets
    "avx512|0|0|0|${_avx512}"
    "avx512_vbmi|1|0|0|${_avx512} -mavx512vbmi"
    "avx512bf16|0|1|0|${_avx512} -mavx512bf16"
    "avx512vnni|0|0|1|${_avx512} -mavx512vnni"
    "amx|0|0|1|${_amx}"
    "amx_bf16|0|1|1|${_amx} -mavx512bf16")
set(_masked_levels O0 Og O2 O3)

set(_masked_compilers "${CMAKE_CXX_COMPILER_ID}|${CMAKE_CXX_COMPILER}")
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  find_program(INT8RT_MASKED_CLANG NAMES clang++ clang++-19 clang++-18 clang++-17 clang++-16 clang++-15 clang++-14)
  if(INT8RT_MASKED_CLANG)
    list(APPEND _masked_compilers "Clang|${INT8RT_MASKED_CLANG}")
  else()
    message(STATUS "int8rt tests: no clang++; masked intrinsics checked as ${CMAKE_CXX_COMPILER_ID} compiles them only")
  endif()
endif()

set(_masked_objects "")
set(_masked_inc "")
foreach(entry ${_masked_compilers})
  string(REPLACE "|" ";" entry "${entry}")
  list(GET entry 0 cc_id)
  list(GET entry 1 cc)
  string(TOLOWER "${cc_id}" cc_tag)
  foreach(set_entry ${_masked_sets})
    string(REPLACE "|" ";" fields "${set_entry}")
    list(GET fields 0 set_name)
    list(GET fields 1 vbmi)
    list(GET fields 2 bf16)
    list(GET fields 3 vnni)
    list(GET fields 4 flag_string)
    separate_arguments(flags UNIX_COMMAND "${flag_string}")
    foreach(level ${_masked_levels})
      set(sym int8rt_masked_${cc_tag}_${set_name}_${level})
      set(obj ${CMAKE_CURRENT_BINARY_DIR}/masked_probes/${sym}.o)
      set(quiet "")
      if(cc_id STREQUAL "GNU")  # GCC 12's headers trip these on their own placeholders (bug 105593)
        set(quiet -Wno-uninitialized -Wno-maybe-uninitialized)
      endif()
      add_custom_command(OUTPUT ${obj}
        COMMAND ${CMAKE_CXX_COMPILER_LAUNCHER} ${cc} ${_masked_common} ${quiet} ${flags} -${level}
                -DINT8RT_MASKED_TABLE=${sym} -I${_masked_dir} -c ${_masked_src} -o ${obj}
        DEPENDS ${_masked_src} ${_masked_dir}/masked_probes.h
        COMMENT "masked probes: ${cc_tag} ${set_name} -${level}" VERBATIM)
      list(APPEND _masked_objects ${obj})
      string(APPEND _masked_inc "INT8RT_MASKED_VARIANT(${sym}, ${vbmi}, ${bf16}, ${vnni})\n")
    endforeach()
  endforeach()
endforeach()
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/masked_probes)
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/masked_probes/masked_probe_variants.inc CONTENT "${_masked_inc}")
set_source_files_properties(${_masked_objects} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
target_sources(int8rt_cpp_tests PRIVATE ${_masked_objects})
target_include_directories(int8rt_cpp_tests PRIVATE ${_masked_dir}/.. ${CMAKE_CURRENT_BINARY_DIR}/masked_probes)
