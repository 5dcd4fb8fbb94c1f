# Warnings as errors for our own targets only.
function(sv_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-unused-parameter
    -Wno-missing-field-initializers)
endfunction()

# sv_area(NAME dir DEPS...) : a static library from every .cpp in libshared/<dir>.
function(sv_area name dir)
  file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*.cpp)
  add_library(${name} STATIC ${_srcs})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/libshared)
  sv_warnings(${name})
  if(ARGN)
    target_link_libraries(${name} PUBLIC ${ARGN})
  endif()
endfunction()
