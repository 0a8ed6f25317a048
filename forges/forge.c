/*
 * forge: helpers the forge clients share.
 */
#include "forges/forge.h"

#include <string.h>

#include <cjson/cJSON.h>

int
forge_escape_path(const char *path, bool slashes, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *path != '\0'; path++) {
		unsigned char c = (unsigned char)*path;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
		    c == '~' || (c == '/' && !slashes);

		if (o + 4 > outsz)
			return -1;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

int
forge_find_marked(const char *json, size_t len, const char *marker,
    int64_t *id)
{
	cJSON *doc = cJSON_ParseWithLength(json, len);
	const cJSON *item, *body, *iid;
	int n = 0;

	cJSON_ArrayForEach(item, doc) {
		n++;
		body = cJSON_GetObjectItemCaseSensitive(item, "body");
		iid = cJSON_GetObjectItemCaseSensitive(item, "id");
		if (cJSON_IsString(body) && cJSON_IsNumber(iid) &&
		    strstr(body->valuestring, marker) != NULL) {
			*id = (int64_t)iid->valuedouble;
			break;
		}
	}
	cJSON_Delete(doc);
	return n;
}
