/* The one translation unit that compiles stb_image and stb_image_write
 * (libstb-dev ships headers; the implementation is instantiated here, PNG
 * and JPEG decoding only, no stdio: lib/io/image.c reads files itself). */

#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
/* Bounds the decoded size per side; lib/io/image.c checks the header's
 * width x height against MRG_MAX_IMAGE_PIXELS before stb decodes. */
#include "mrg/limits.h"
#define STBI_MAX_DIMENSIONS MRG_MAX_IMAGE_SIDE
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

#define STBI_WRITE_NO_STDIO
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
