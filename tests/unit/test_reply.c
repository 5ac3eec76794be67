/* Unit tests for the FTP reply assembler and the 227/229/257/211 parsers. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "ftpsfs/reply.h"

static int feed(struct ftp_reply *r, const char *line)
{
	return ftp_reply_feed_line(r, line, strlen(line));
}

TEST(single_line_reply_completes)
{
	struct ftp_reply r;

	ftp_reply_init(&r);
	CHECK_INT(feed(&r, "220 Welcome"), 1);
	CHECK_INT(r.code, 220);
	CHECK_STR(r.text, "220 Welcome");
}

TEST(bare_code_is_a_reply)
{
	struct ftp_reply r;

	ftp_reply_init(&r);
	CHECK_INT(feed(&r, "200"), 1);
	CHECK_INT(r.code, 200);
}

TEST(multiline_reply_ends_with_same_code_and_space)
{
	struct ftp_reply r;

	ftp_reply_init(&r);
	CHECK_INT(feed(&r, "211-Features:"), 0);
	CHECK_INT(feed(&r, " MLST type*;size*;"), 0);
	/* RFC 959 4.2: inner lines may start with digits, even the code. */
	CHECK_INT(feed(&r, "211-not the end"), 0);
	CHECK_INT(feed(&r, "123 not the end either"), 0);
	CHECK_INT(feed(&r, "211 End"), 1);
	CHECK_INT(r.code, 211);
	CHECK_INT(r.nlines, 5);
}

TEST(garbage_first_line_is_protocol_error)
{
	struct ftp_reply r;

	ftp_reply_init(&r);
	CHECK_INT(feed(&r, "hello"), -EPROTO);
	ftp_reply_init(&r);
	CHECK_INT(feed(&r, "620 bad class"), -EPROTO);
	ftp_reply_init(&r);
	CHECK_INT(feed(&r, "22"), -EPROTO);
	ftp_reply_init(&r);
	CHECK_INT(feed(&r, "220x"), -EPROTO);
}

TEST(endless_multiline_reply_is_bounded)
{
	struct ftp_reply r;
	int ret = 0;

	ftp_reply_init(&r);
	CHECK_INT(feed(&r, "250-start"), 0);
	for (int i = 0; i < FTP_REPLY_LINES_MAX + 5 && ret == 0; i++)
		ret = feed(&r, " filler line that never ends the reply");
	CHECK_INT(ret, -EMSGSIZE);
	CHECK(r.text_len < sizeof(r.text));
}

TEST(reply_message_skips_code)
{
	struct ftp_reply r;
	char buf[64];

	ftp_reply_init(&r);
	feed(&r, "550-No such file");
	feed(&r, "550 end");
	CHECK_STR(ftp_reply_message(&r, buf, sizeof(buf)), "No such file");
}

TEST(reply_message_escapes_terminal_controls)
{
	struct ftp_reply r;
	char buf[128];

	ftp_reply_init(&r);
	CHECK_INT(feed(&r, "530 \x1b]0;owned\x07\rftpsfs: forged \\"), 1);
	CHECK_STR(ftp_reply_message(&r, buf, sizeof(buf)),
		  "\\x1b]0;owned\\x07\\x0dftpsfs: forged \\x5c");
}

TEST(reply_message_is_truncated_to_its_buffer)
{
	struct ftp_reply r;
	char buf[12];

	ftp_reply_init(&r);
	CHECK_INT(feed(&r, "550 \x1b\x1b\x1b\x1b"), 1);
	CHECK_STR(ftp_reply_message(&r, buf, sizeof(buf)), "\\x1b\\x1b...");
}

TEST(epsv_port_parsed)
{
	uint16_t port = 0;

	CHECK_INT(
		ftp_parse_epsv("229 Entering Extended Passive Mode (|||40123|)",
			       &port),
		0);
	CHECK_INT(port, 40123);
	CHECK_INT(ftp_parse_epsv("229 ok (!!!21!)", &port), 0);
	CHECK_INT(port, 21);
}

TEST(epsv_malformed_rejected)
{
	uint16_t port = 0;

	CHECK_INT(ftp_parse_epsv("229 Entering (|||99999|)", &port), -EPROTO);
	CHECK_INT(ftp_parse_epsv("229 Entering (|||0|)", &port), -EPROTO);
	CHECK_INT(ftp_parse_epsv("229 Entering (||1.2.3.4|21|)", &port),
		  -EPROTO);
	CHECK_INT(ftp_parse_epsv("229 Entering", &port), -EPROTO);
	CHECK_INT(ftp_parse_epsv("229 (|||12", &port), -EPROTO);
}

TEST(pasv_port_parsed_and_address_ignored)
{
	uint16_t port = 0;

	CHECK_INT(ftp_parse_pasv("227 Entering Passive Mode (10,9,8,7,156,64).",
				 &port),
		  0);
	CHECK_INT(port, 156 * 256 + 64);
	CHECK_INT(ftp_parse_pasv("227 =127,0,0,1,4,1", &port), 0);
	CHECK_INT(port, 1025);
}

TEST(pasv_malformed_rejected)
{
	uint16_t port = 0;

	CHECK_INT(ftp_parse_pasv("227 (127,0,0,1,256,1)", &port), -EPROTO);
	CHECK_INT(ftp_parse_pasv("227 (127,0,0,1,4)", &port), -EPROTO);
	CHECK_INT(ftp_parse_pasv("227 (127,0,0,1,0,0)", &port), -EPROTO);
	CHECK_INT(ftp_parse_pasv("227 nothing", &port), -EPROTO);
}

TEST(pwd_unquotes_doubled_quotes)
{
	char buf[64];

	CHECK_INT(ftp_parse_pwd("257 \"/home/a\"\"b\" is current", buf,
				sizeof(buf)),
		  0);
	CHECK_STR(buf, "/home/a\"b");
	CHECK_INT(ftp_parse_pwd("257 \"/\"", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "/");
}

TEST(pwd_malformed_or_too_long)
{
	char buf[64], tiny[4];

	CHECK_INT(ftp_parse_pwd("257 no quotes", buf, sizeof(buf)), -EPROTO);
	CHECK_INT(ftp_parse_pwd("257 \"/unterminated", buf, sizeof(buf)),
		  -EPROTO);
	CHECK_INT(ftp_parse_pwd("257 \"/long/path\"", tiny, sizeof(tiny)),
		  -ENAMETOOLONG);
	CHECK_INT(ftp_parse_pwd("250 \"/\"", buf, sizeof(buf)), -EPROTO);
}

TEST(feat_proftpd_style)
{
	struct ftp_features f;

	ftp_parse_feat("211-Features:\n AUTH TLS\n MLST "
		       "modify*;perm*;size*;type*;unique*;UNIX.mode*;\n"
		       " MFMT\n EPSV\n REST STREAM\n SIZE\n MDTM\n UTF8\n "
		       "TVFS\n211 End",
		       &f);
	CHECK(f.auth_tls && f.mlst && f.mlst_unique && f.mlst_mode);
	CHECK(f.mfmt && f.epsv && f.rest_stream && f.size && f.mdtm && f.utf8 &&
	      f.tvfs);
}

TEST(feat_mlst_all_used_facts_on_needs_no_opts)
{
	struct ftp_features f;

	ftp_parse_feat("211-Features:\n MLST "
		       "modify*;perm*;size*;type*;unique*;UNIX.mode*;\n"
		       "211 End",
		       &f);
	CHECK_STR(f.mlst_opts, "");
}

TEST(feat_mlst_facts_off_are_asked_for_in_server_spelling)
{
	struct ftp_features f;

	/* pyftpdlib: unix.mode known but off; its OPTS MLST is case-sensitive
	 */
	ftp_parse_feat("211-Features:\n MLST "
		       "type*;perm*;size*;modify*;unique*;unix.mode;"
		       "unix.uid;unix.gid;\n211 End",
		       &f);
	CHECK(f.mlst_mode);
	CHECK_STR(f.mlst_opts, "type;size;modify;unique;unix.mode;");
}

TEST(feat_mlst_facts_in_other_case_and_without_final_semicolon)
{
	struct ftp_features f;

	ftp_parse_feat(
		"211-Features:\n MLST Size*;Modify*;Type*;UNIX.MODE\n211 End",
		&f);
	CHECK_STR(f.mlst_opts, "Size;Modify;Type;UNIX.MODE;");
}

TEST(feat_vsftpd_style_has_no_mlst)
{
	struct ftp_features f;

	ftp_parse_feat("211-Features:\n AUTH SSL\n AUTH TLS\n EPRT\n EPSV\n "
		       "MDTM\n PASV\n PBSZ\n"
		       " PROT\n REST STREAM\n SIZE\n TVFS\n UTF8\n211 End",
		       &f);
	CHECK(!f.mlst && !f.mfmt && !f.avbl);
	CHECK(f.auth_tls && f.epsv && f.utf8 && f.rest_stream);
}

TEST(feat_avbl)
{
	struct ftp_features f;

	ftp_parse_feat("211-Extensions supported:\n AVBL\n SIZE\n211 END", &f);
	CHECK(f.avbl && f.size);
	/* Only the whole word. */
	ftp_parse_feat("211-Features:\n AVBLX\n211 End", &f);
	CHECK(!f.avbl);
}

TEST(feat_ignores_code_lines)
{
	struct ftp_features f;

	/* "MLST" on a code line is not a feature (RFC 2389: features are
	 * the lines that start with a space). */
	ftp_parse_feat("211-MLST\n211 MLST", &f);
	CHECK(!f.mlst);
}

TEST(mdtm_parsed_with_fraction)
{
	int64_t sec = 0;
	uint32_t ns = 0;

	CHECK_INT(ftp_parse_mdtm("213 20200101123456", &sec, &ns), 0);
	CHECK_INT(sec, 1577882096);
	CHECK_INT(ns, 0);
	CHECK_INT(ftp_parse_mdtm("213 20200101123456.25", &sec, &ns), 0);
	CHECK_INT(ns, 250000000);
}

TEST(mdtm_malformed_rejected)
{
	int64_t sec;
	uint32_t ns;

	CHECK_INT(ftp_parse_mdtm("213 2020010112345", &sec, &ns), -EPROTO);
	CHECK_INT(ftp_parse_mdtm("213 20201301123456", &sec, &ns), -EPROTO);
	CHECK_INT(ftp_parse_mdtm("550 20200101123456", &sec, &ns), -EPROTO);
	CHECK_INT(ftp_parse_mdtm("213 20200101123456x", &sec, &ns), -EPROTO);
	CHECK_INT(ftp_parse_mdtm("213 20200101123456.", &sec, &ns), -EPROTO);
}

TEST(size_parsed_beyond_4gib)
{
	uint64_t size = 0;

	CHECK_INT(ftp_parse_size("213 5368709120", &size), 0);
	CHECK(size == 5368709120ull);
	CHECK_INT(ftp_parse_size("213 99999999999999999999999", &size),
		  -EPROTO);
	CHECK_INT(ftp_parse_size("213 -1", &size), -EPROTO);
}

TEST(format_time_round_trips)
{
	char buf[16];
	int64_t back;
	uint32_t ns;
	char line[32];

	CHECK_INT(ftp_format_time(1577882096, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "20200101123456");
	CHECK_INT(ftp_format_time(0, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "19700101000000");
	CHECK_INT(ftp_format_time(951782400, buf, sizeof(buf)),
		  0); /* leap day */
	CHECK_STR(buf, "20000229000000");
	for (int64_t t = -2000000000; t < 4000000000; t += 123456789) {
		CHECK_INT(ftp_format_time(t, buf, sizeof(buf)), 0);
		snprintf(line, sizeof(line), "213 %s", buf);
		CHECK_INT(ftp_parse_mdtm(line, &back, &ns), 0);
		CHECK(back == t);
	}
	CHECK_INT(ftp_format_time(300000000000, buf, sizeof(buf)), -EINVAL);
}

static const struct check_case cases[] = {
	TEST_ENTRY(mdtm_parsed_with_fraction),
	TEST_ENTRY(mdtm_malformed_rejected),
	TEST_ENTRY(size_parsed_beyond_4gib),
	TEST_ENTRY(format_time_round_trips),
	TEST_ENTRY(single_line_reply_completes),
	TEST_ENTRY(bare_code_is_a_reply),
	TEST_ENTRY(multiline_reply_ends_with_same_code_and_space),
	TEST_ENTRY(garbage_first_line_is_protocol_error),
	TEST_ENTRY(endless_multiline_reply_is_bounded),
	TEST_ENTRY(reply_message_skips_code),
	TEST_ENTRY(reply_message_escapes_terminal_controls),
	TEST_ENTRY(reply_message_is_truncated_to_its_buffer),
	TEST_ENTRY(epsv_port_parsed),
	TEST_ENTRY(epsv_malformed_rejected),
	TEST_ENTRY(pasv_port_parsed_and_address_ignored),
	TEST_ENTRY(pasv_malformed_rejected),
	TEST_ENTRY(pwd_unquotes_doubled_quotes),
	TEST_ENTRY(pwd_malformed_or_too_long),
	TEST_ENTRY(feat_proftpd_style),
	TEST_ENTRY(feat_mlst_all_used_facts_on_needs_no_opts),
	TEST_ENTRY(feat_mlst_facts_off_are_asked_for_in_server_spelling),
	TEST_ENTRY(feat_mlst_facts_in_other_case_and_without_final_semicolon),
	TEST_ENTRY(feat_vsftpd_style_has_no_mlst),
	TEST_ENTRY(feat_ignores_code_lines),
	TEST_ENTRY(feat_avbl),
};

CHECK_MAIN(cases)
