/* Small pieces of HTML output shared by the pages mrg writes: escaped text
 * and files inlined as data: URIs (so a page needs nothing beside it). */
#ifndef MRG_TOOLS_HTML_OUT_H
#define MRG_TOOLS_HTML_OUT_H

#include <stdio.h>

#include "mrg/status.h"

/* s with <, >, & and " escaped (nothing for NULL). */
void html_escape(FILE *f, const char *s);
/* The first n bytes of s, escaped. */
void html_escape_n(FILE *f, const char *s, size_t n);
/* "data:image/png;base64,..." of the image file at path (PNG, JPEG or GIF
 * by its first bytes; anything else as application/octet-stream). At most
 * max_bytes are read: a larger file is an error, as is one that cannot be
 * read (MRG_ERR_IO / MRG_ERR_FORMAT with the path). */
mrg_status html_data_uri(FILE *f, const char *path, long max_bytes);

#endif
