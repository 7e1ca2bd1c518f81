/* admin_static.c: the console's files (adm.h), read into memory once at
 * start, so serving them never touches the disk on the loop thread; served
 * as they are, with a content type by extension. Only names of letters,
 * digits, '-', '_' and '.' are served, so no path leaves the folder. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adm.h"

#define FILES_MAX 64
#define FILE_SIZE_MAX (2 * 1024 * 1024)

static struct file {
  char path[128]; /* "/index.html", "/js/app.js" */
  const char *type;
  char *data;
  size_t len;
} files[FILES_MAX];
static size_t nfiles;

static const struct {
  const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".png", "image/png"},
    {".svg", "image/svg+xml"},
    {".ico", "image/x-icon"},
};

static const char *type_of(const char *name) {
  const char *dot = strrchr(name, '.');
  for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
    if (strcmp(dot, types[i].ext) == 0)
      return types[i].type;
  return NULL;
}

static int name_ok(const char *n) {
  return n[0] != '.' && strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789-_.") == strlen(n);
}

static int load_file(const char *full, const char *web, char *err, size_t errlen) {
  FILE *f = fopen(full, "rb");
  struct stat st;
  if (f == NULL || fstat(fileno(f), &st) != 0 || st.st_size > FILE_SIZE_MAX) {
    snprintf(err, errlen, "%s: cannot read (or larger than 2 MiB)", full);
    if (f)
      fclose(f);
    return -1;
  }
  if (nfiles == FILES_MAX) {
    fclose(f);
    snprintf(err, errlen, "more than %d console files", FILES_MAX);
    return -1;
  }
  struct file *x = &files[nfiles];
  x->data = malloc((size_t)st.st_size + 1);
  if (x->data == NULL || fread(x->data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
    free(x->data);
    fclose(f);
    snprintf(err, errlen, "%s: cannot read", full);
    return -1;
  }
  fclose(f);
  x->len = (size_t)st.st_size;
  x->type = type_of(web);
  snprintf(x->path, sizeof(x->path), "%s", web);
  nfiles++;
  return 0;
}

static int load_dir(const char *dir, const char *web, int depth, char *err, size_t errlen) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    snprintf(err, errlen, "console folder %s: cannot open", dir);
    return -1;
  }
  int rc = 0;
  for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
    if (!name_ok(e->d_name) || strlen(e->d_name) > 48)
      continue;
    char full[4096], w[128];
    struct stat st;
    snprintf(full, sizeof(full), "%.3000s/%.48s", dir, e->d_name);
    snprintf(w, sizeof(w), "%.60s/%.48s", web, e->d_name);
    if (stat(full, &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode) && depth > 0)
      rc = load_dir(full, w, depth - 1, err, errlen);
    else if (S_ISREG(st.st_mode) && type_of(e->d_name) != NULL)
      rc = load_file(full, w, err, errlen);
  }
  closedir(d);
  return rc;
}

int adm_static_load(const char *dir, char *err, size_t errlen) {
  if (load_dir(dir, "", 1, err, errlen) != 0)
    return -1;
  for (size_t i = 0; i < nfiles; i++)
    if (strcmp(files[i].path, "/index.html") == 0)
      return 0;
  snprintf(err, errlen, "console folder %s has no index.html", dir);
  return -1;
}

int adm_static_serve(mqg_http_req *req, const char *path) {
  if (strcmp(path, "/") == 0)
    path = "/index.html";
  for (size_t i = 0; i < nfiles; i++)
    if (strcmp(files[i].path, path) == 0) {
      mqg_http_respond(req, 200, files[i].type, files[i].data, files[i].len);
      return 0;
    }
  return -1;
}

void adm_static_free(void) {
  for (size_t i = 0; i < nfiles; i++)
    free(files[i].data);
  nfiles = 0;
}
