/* recorder/format.c — the record table of format.h as data, for decoders, --schema and tests. */
#include <stddef.h>

#include "reader.h"

static const struct glass_record_desc descs[] = {
#define GLASS_DESC(name, tag, types, fields) {tag, #name, types, fields},
	GLASS_STREAM_RECORDS(GLASS_DESC) GLASS_META_RECORDS(GLASS_DESC)
#undef GLASS_DESC
};

static const struct glass_record_desc *by_tag[GLASS_REC_MAX_TAG + 1];

const struct glass_record_desc *glass_record_desc(uint8_t tag)
{
	if (tag > GLASS_REC_MAX_TAG)
		return NULL;
	if (!by_tag[descs[0].tag]) {
		for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++)
			by_tag[descs[i].tag] = &descs[i];
	}
	return by_tag[tag];
}

const struct glass_record_desc *glass_record_descs(size_t *n)
{
	*n = sizeof(descs) / sizeof(descs[0]);
	return descs;
}
