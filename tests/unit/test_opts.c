/*
 * test_opts.c - mount option parsing and validation (src/opts/opts.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/opts.h"

#define PIN                                                                    \
	"sha256:"                                                              \
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static struct ftpsfs_opts o;
static struct fuse_args args;
static char kept[1024]; /* what stays for libfuse, space-separated */

/* Parse "ftpsfs" + @argv (NULL-terminated); the rest is in o, args, kept. */
static int parse(const char *const *argv)
{
	int argc = 0, ret;

	opts_free(&o);
	fuse_opt_free_args(&args);
	while (argv[argc])
		argc++;
	args = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	fuse_opt_add_arg(&args, "ftpsfs");
	for (int i = 0; i < argc; i++)
		fuse_opt_add_arg(&args, argv[i]);
	ret = opts_parse(&args, &o);
	kept[0] = '\0';
	for (int i = 1; i < args.argc; i++) {
		strncat(kept, args.argv[i], sizeof(kept) - strlen(kept) - 2);
		strcat(kept, " ");
	}
	return ret;
}

/* opts_validate() of "-o @optstr" (after the remote and mount point). */
static const char *invalid(const char *optstr)
{
	const char *argv[] = { "u@h", "/mnt", "-o", optstr, NULL };
	const char *msg = NULL;

	if (parse(argv) < 0)
		return "parse failed";
	return opts_validate(&o, &msg) < 0 ? msg : NULL;
}

TEST(defaults_are_filled_in_and_valid)
{
	const char *argv[] = { "u@h:/dir", "/mnt", NULL };
	const char *msg = NULL;

	CHECK_INT(parse(argv), 0);
	CHECK_STR(o.remote, "u@h:/dir");
	CHECK_INT(o.max_conns, 5);
	CHECK_INT(o.connect_timeout, 15);
	CHECK_INT(o.timeout, 30);
	CHECK_INT(o.keepalive, 60);
	CHECK_INT(o.idle_close, 120);
	CHECK(o.attr_timeout == 20 && o.dir_timeout == 20);
	CHECK(o.negative_timeout == 5);
	CHECK_INT(o.dir_cache_mb, 64);
	CHECK_INT(o.dir_max_entries, 1000000);
	CHECK_INT(o.contain_symlinks, 1);
	CHECK_INT(o.transform_symlinks, 1);
	CHECK_INT(o.read_only, 0);
	CHECK_INT(o.active, 0);
	CHECK_INT(o.atomic_upload, 0);
	CHECK_INT(o.uid_set, 0);
	CHECK_INT(o.gid_set, 0);
	CHECK_INT(opts_validate(&o, &msg), 0);
	/* The mount point stays for fuse_parse_cmdline(). */
	CHECK(strstr(kept, "/mnt") != NULL);
}

TEST(our_options_are_taken_out_generic_ones_stay)
{
	const char *argv[] = { "u@h",
			       "/mnt",
			       "-o",
			       "max_conns=3,timeout=7,active,atomic_upload,"
			       "allow_other,ro,attr_timeout=1.5",
			       "-d",
			       NULL };

	CHECK_INT(parse(argv), 0);
	CHECK_INT(o.max_conns, 3);
	CHECK_INT(o.timeout, 7);
	CHECK_INT(o.active, 1);
	CHECK_INT(o.atomic_upload, 1);
	CHECK(o.attr_timeout == 1.5);
	CHECK_INT(o.read_only, 1);
	CHECK_INT(o.debug, 1);
	CHECK(strstr(kept, "max_conns") == NULL);
	CHECK(strstr(kept, "atomic_upload") == NULL);
	CHECK(strstr(kept, "active") == NULL);
	CHECK(strstr(kept, "allow_other") != NULL);
	CHECK(strstr(kept, "ro") != NULL); /* also a kernel mount flag */
	CHECK(strstr(kept, "-d") != NULL);
}

TEST(owner_options_are_set_only_when_given)
{
	const char *uid_only[] = { "u@h", "/mnt", "-o", "uid=1000", NULL };
	const char *both[] = { "u@h", "/mnt", "-o", "uid=0,gid=33", NULL };

	CHECK_INT(parse(uid_only), 0);
	CHECK_INT(o.uid_set, 1);
	CHECK_INT(o.uid, 1000);
	CHECK_INT(o.gid_set, 0);
	CHECK(strstr(kept, "uid") == NULL); /* ours, not the kernel's */
	CHECK_INT(parse(both), 0);
	CHECK(o.uid_set && o.uid == 0);
	CHECK(o.gid_set && o.gid == 33);
}

TEST(op_timeout_is_set_only_when_given_and_zero_means_none)
{
	const char *none[] = { "u@h", "/mnt", NULL };
	const char *off[] = { "u@h", "/mnt", "-o", "op_timeout=0", NULL };

	CHECK_INT(parse(none), 0);
	CHECK_INT(o.op_timeout_set, 0); /* main: 4 * timeout */
	CHECK_INT(parse(off), 0);
	CHECK_INT(o.op_timeout_set, 1);
	CHECK_INT(o.op_timeout, 0);
	CHECK(strstr(kept, "op_timeout") == NULL);
	CHECK(invalid("op_timeout=0") == NULL);
	CHECK(invalid("op_timeout=86400") == NULL);
	CHECK(invalid("op_timeout=86401") != NULL);
}

TEST(later_option_wins)
{
	const char *argv[] = { "u@h", "/mnt",
			       "-o",  "ro",
			       "-o",  "rw,max_conns=2",
			       "-o",  "max_conns=9,no_contain_symlinks",
			       NULL };

	CHECK_INT(parse(argv), 0);
	CHECK_INT(o.read_only, 0);
	CHECK_INT(o.max_conns, 9);
	CHECK_INT(o.contain_symlinks, 0);
}

TEST(string_options_are_copied)
{
	const char *argv[] = {
		"u@h", "/mnt", "-o",
		"cafile=/etc/ca.pem,tls_max=1.2,spool_dir=/var/x,"
		"fingerprint=" PIN,
		NULL
	};

	CHECK_INT(parse(argv), 0);
	CHECK_STR(o.cafile, "/etc/ca.pem");
	CHECK_STR(o.tls_max, "1.2");
	CHECK_STR(o.spool_dir, "/var/x");
	CHECK_STR(o.fingerprint, PIN);
}

TEST(a_number_that_is_not_one_is_refused)
{
	const char *argv[] = { "u@h", "/mnt", "-o", "max_conns=lots", NULL };

	CHECK_INT(parse(argv), -EINVAL);
}

TEST(ranges_are_checked)
{
	CHECK(invalid("max_conns=0") != NULL);
	CHECK(invalid("max_conns=65") != NULL);
	CHECK(invalid("max_conns=64") == NULL);
	CHECK(invalid("timeout=0") != NULL);
	CHECK(invalid("connect_timeout=3601") != NULL);
	CHECK(invalid("attr_timeout=-1") != NULL);
	CHECK(invalid("dir_timeout=86401") != NULL);
	CHECK(invalid("attr_timeout=0,dir_timeout=0") == NULL);
	CHECK(invalid("idle_close=0") != NULL);
	CHECK(invalid("dir_cache_mb=0") != NULL);
	CHECK(invalid("dir_cache_mb=65537") != NULL);
	CHECK(invalid("dir_cache_mb=1") == NULL);
	CHECK(invalid("dir_max_entries=0") != NULL);
	CHECK(invalid("dir_max_entries=10000001") != NULL);
	CHECK(invalid("dir_max_entries=10000000") == NULL);
	CHECK(invalid("keepalive=0") == NULL);
	CHECK(invalid("tls_max=1.1") != NULL);
	CHECK(invalid("tls_max=1.3") == NULL);
}

TEST(contradicting_security_options_are_refused)
{
	CHECK(strstr(invalid("fingerprint=" PIN ",tofu"), "exclude") != NULL);
	CHECK(invalid("tofu,no_verify") != NULL);
	CHECK(invalid("fingerprint=sha256:00") != NULL);
	CHECK(invalid("no_verify,cafile=/x") != NULL);
	CHECK(invalid("password_stdin,askpass=/bin/p") != NULL);
	CHECK(invalid("key=/k.pem") != NULL);
	CHECK(invalid("key_password_stdin") != NULL);
	CHECK(invalid("allow_plaintext_password") != NULL);
	CHECK(invalid("allow_plaintext,tofu") != NULL);
	CHECK(invalid("allow_plaintext,allow_plaintext_password") == NULL);
	CHECK(invalid("cert=/c.pem,key=/k.pem,key_password_stdin") == NULL);
}

TEST(fstab_only_options_are_accepted_and_dropped)
{
	const char *argv[] = { "u@h", "/mnt", "-o",
			       "_netdev,noauto,nofail,user,users,defaults,"
			       "x-systemd.automount,x-systemd.idle-timeout=60,"
			       "comment=backup,allow_other",
			       NULL };

	CHECK_INT(parse(argv), 0);
	CHECK_INT(o.allow_other, 1);
	CHECK(strstr(kept, "allow_other") != NULL);
	CHECK(strstr(kept, "_netdev") == NULL);
	CHECK(strstr(kept, "noauto") == NULL);
	CHECK(strstr(kept, "nofail") == NULL);
	CHECK(strstr(kept, "user") == NULL);
	CHECK(strstr(kept, "defaults") == NULL);
	CHECK(strstr(kept, "x-systemd") == NULL);
	CHECK(strstr(kept, "comment") == NULL);
}

TEST(unknown_options_stay_for_libfuse_to_refuse)
{
	const char *argv[] = { "u@h", "/mnt", "-o", "foo=bar,xattr", NULL };

	CHECK_INT(parse(argv), 0);
	CHECK(strstr(kept, "foo=bar") != NULL);
	CHECK(strstr(kept, "xattr") != NULL);
}

TEST(suid_and_dev_from_the_mount_helper_are_dropped)
{
	/* What mount.fuse3 passes for root's fstab line. */
	const char *argv[] = { "u@h", "/mnt", "-o", "rw,allow_other,dev,suid",
			       NULL };

	CHECK_INT(parse(argv), 0);
	CHECK(strstr(kept, "rw") != NULL);
	CHECK(strstr(kept, "dev") == NULL);
	CHECK(strstr(kept, "suid") == NULL);
	CHECK_INT(o.nosuid, 0);
}

/* What opts_mount_args() adds to the args of "-o @optstr", as root or
 * not: the text after the last argument the user gave. */
static const char *added(const char *remote, const char *optstr, bool root)
{
	const char *argv[] = { remote, "/mnt", "-o", optstr, NULL };
	size_t before;

	if (parse(argv) < 0)
		return "parse failed";
	before = strlen(kept);
	if (opts_mount_args(&o, root, &args) < 0)
		return "opts_mount_args failed";
	kept[0] = '\0';
	for (int i = 1; i < args.argc; i++) {
		strncat(kept, args.argv[i], sizeof(kept) - strlen(kept) - 2);
		strcat(kept, " ");
	}
	return kept + before;
}

TEST(a_root_mount_is_nosuid_and_nodev_whatever_the_helper_said)
{
	CHECK_STR(added("h:/", "rw,dev,suid", true),
		  "-ofsname=h:/ -osubtype=ftpsfs -onodev,nosuid ");
	CHECK_STR(added("h:/", "rw", false),
		  "-ofsname=h:/ -osubtype=ftpsfs -onodev,nosuid ");
}

TEST(allow_suid_mounts_suid_only_as_root_and_without_nosuid)
{
	CHECK(strstr(added("h:/", "allow_suid,suid", true), "-onodev,suid ") !=
	      NULL);
	CHECK(strstr(added("h:/", "allow_suid", false), "-onodev,nosuid ") !=
	      NULL);
	/* mount(8) passes nosuid for "user" and "users" lines. */
	CHECK(strstr(added("h:/", "allow_suid,nosuid", true),
		     "-onodev,nosuid ") != NULL);
}

TEST(allow_other_turns_on_default_permissions)
{
	CHECK(strstr(added("h:/", "allow_other", true),
		     " -odefault_permissions ") != NULL);
	CHECK(strstr(added("h:/", "allow_other,no_default_permissions", true),
		     "default_permissions") == NULL);
	/* Given by the user: stays where it is, not added twice. */
	CHECK(strstr(added("h:/", "allow_other,default_permissions", true),
		     "-odefault_permissions") == NULL);
	CHECK(strstr(added("h:/", "ro", true), "default_permissions") == NULL);
	CHECK(strstr(invalid("default_permissions,no_default_permissions"),
		     "exclude") != NULL);
}

TEST(fsname_is_the_remote_as_given_with_commas_and_backslashes_escaped)
{
	CHECK_STR(added("me@h:2121:/a,b\\c", "ro", false),
		  "-ofsname=me@h:2121:/a\\,b\\\\c -osubtype=ftpsfs "
		  "-onodev,nosuid ");
	CHECK(strncmp(added("ftps://u@[::1]:990/x", "ro", false),
		      "-ofsname=ftps://u@[::1]:990/x ", 30) == 0);
}

TEST(probe_is_taken_out_and_probe_readonly_needs_it)
{
	const char *argv[] = { "--probe", "u@h:/dir", "-o",
			       "probe_readonly,max_conns=2", NULL };
	const char *msg = NULL;

	CHECK_INT(parse(argv), 0);
	CHECK_INT(o.probe, 1);
	CHECK_INT(o.probe_readonly, 1);
	CHECK_STR(o.remote, "u@h:/dir");
	CHECK_INT(o.max_conns, 2);
	CHECK(strstr(kept, "probe") == NULL);
	CHECK_INT(opts_validate(&o, &msg), 0);
	CHECK(strstr(invalid("probe_readonly"), "--probe") != NULL);
}

TEST(escape_hatches_are_ours_and_off_by_default)
{
	const char *none[] = { "u@h", "/mnt", NULL };
	const char *all[] = { "u@h", "/mnt",
			      "-o",  "no_epsv,no_mlsd",
			      "-o",  "umask=027,file_mode=0640,dir_mode=750",
			      NULL };

	CHECK_INT(parse(none), 0);
	CHECK_INT(o.no_epsv, 0);
	CHECK_INT(o.no_mlsd, 0);
	CHECK_INT(o.list_hidden, 0);
	CHECK(!o.umask && !o.file_mode && !o.dir_mode);
	CHECK_INT(parse(all), 0);
	CHECK_INT(o.no_epsv, 1);
	CHECK_INT(o.no_mlsd, 1);
	CHECK_STR(o.umask, "027");
	CHECK_STR(o.file_mode, "0640");
	CHECK_STR(o.dir_mode, "750");
	CHECK(strstr(kept, "epsv") == NULL);
	CHECK(strstr(kept, "mlsd") == NULL);
	CHECK(strstr(kept, "mode") == NULL);
	CHECK(strstr(kept, "umask") == NULL); /* not libfuse's (high-level) */
}

TEST(a_mode_is_octal_up_to_7777)
{
	mode_t m = 0;

	CHECK_INT(opts_parse_mode("022", &m), 0);
	CHECK_INT(m, 022);
	CHECK_INT(opts_parse_mode("0", &m), 0);
	CHECK_INT(m, 0);
	CHECK_INT(opts_parse_mode("7777", &m), 0);
	CHECK_INT(m, 07777);
	CHECK_INT(opts_parse_mode("00000644", &m), 0);
	CHECK_INT(m, 0644);
	CHECK_INT(opts_parse_mode("10000", &m), -EINVAL);
	CHECK_INT(opts_parse_mode("77777777777777777777777", &m), -EINVAL);
	CHECK_INT(opts_parse_mode("", &m), -EINVAL);
	CHECK_INT(opts_parse_mode("8", &m), -EINVAL);
	CHECK_INT(opts_parse_mode("0648", &m), -EINVAL);
	CHECK_INT(opts_parse_mode("-1", &m), -EINVAL);
	CHECK_INT(opts_parse_mode("+644", &m), -EINVAL);
	CHECK_INT(opts_parse_mode(" 644", &m), -EINVAL);
	CHECK_INT(opts_parse_mode("644 ", &m), -EINVAL);
	CHECK_INT(opts_parse_mode("0x1ff", &m), -EINVAL);
	CHECK_INT(opts_parse_mode("u+rw", &m), -EINVAL);
	CHECK_INT(m, 0644); /* untouched by a refusal */
}

TEST(bad_modes_are_refused_with_a_clear_message)
{
	CHECK(strstr(invalid("umask=0800"), "octal") != NULL);
	CHECK(strstr(invalid("file_mode=rw-r--r--"), "octal") != NULL);
	CHECK(strstr(invalid("dir_mode=17777"), "7777") != NULL);
	CHECK(invalid("umask=") != NULL);
	CHECK(invalid("umask=077,file_mode=0444,dir_mode=0555") == NULL);
	CHECK(invalid("file_mode=0") == NULL);
}

TEST(escape_hatches_without_effect_together_are_refused)
{
	CHECK(strstr(invalid("no_epsv,active"), "no_epsv") != NULL);
	CHECK(strstr(invalid("list_hidden,no_mlsd"), "list_hidden") != NULL);
	CHECK(invalid("no_epsv,no_mlsd") == NULL);
	CHECK(invalid("list_hidden") == NULL);
}

/* ---- issue 18: poll=, bwlimit=, bwlimit_up= ---- */

static uint64_t rate(const char *text)
{
	uint64_t v = 12345;

	return opts_parse_rate(text, &v) == 0 ? v : UINT64_MAX;
}

TEST(a_rate_is_bytes_per_second_with_binary_units)
{
	CHECK(rate("0") == 0);
	CHECK(rate("1500") == 1500);
	CHECK(rate("1k") == 1024);
	CHECK(rate("512k") == 512 * 1024);
	CHECK(rate("512K") == 512 * 1024);
	CHECK(rate("10M") == 10 * 1024 * 1024);
	CHECK(rate("10MiB") == 10 * 1024 * 1024);
	CHECK(rate("10MB") == 10 * 1024 * 1024);
	CHECK(rate("1G") == 1024ULL * 1024 * 1024);
	CHECK(rate("1024G") == 1ULL << 40);
}

TEST(bad_rates_are_refused)
{
	const char *bad[] = { "",     "M",     "-1",
			      "1.5M", "10 M",  "10X",
			      "10Mx", "1025G", "99999999999999999999",
			      "1023", NULL };

	for (int i = 0; bad[i]; i++)
		CHECK(rate(bad[i]) == UINT64_MAX);
	CHECK(strstr(invalid("bwlimit=fast"), "bwlimit") != NULL);
	CHECK(strstr(invalid("bwlimit_up=1.5M"), "bwlimit") != NULL);
	CHECK(invalid("bwlimit=10M,bwlimit_up=512k,poll=30") == NULL);
	CHECK(invalid("poll=86401") != NULL);
}

static const struct check_case cases[] = {
	TEST_ENTRY(defaults_are_filled_in_and_valid),
	TEST_ENTRY(our_options_are_taken_out_generic_ones_stay),
	TEST_ENTRY(owner_options_are_set_only_when_given),
	TEST_ENTRY(op_timeout_is_set_only_when_given_and_zero_means_none),
	TEST_ENTRY(later_option_wins),
	TEST_ENTRY(string_options_are_copied),
	TEST_ENTRY(a_number_that_is_not_one_is_refused),
	TEST_ENTRY(ranges_are_checked),
	TEST_ENTRY(contradicting_security_options_are_refused),
	TEST_ENTRY(fstab_only_options_are_accepted_and_dropped),
	TEST_ENTRY(unknown_options_stay_for_libfuse_to_refuse),
	TEST_ENTRY(suid_and_dev_from_the_mount_helper_are_dropped),
	TEST_ENTRY(a_root_mount_is_nosuid_and_nodev_whatever_the_helper_said),
	TEST_ENTRY(allow_suid_mounts_suid_only_as_root_and_without_nosuid),
	TEST_ENTRY(allow_other_turns_on_default_permissions),
	TEST_ENTRY(
		fsname_is_the_remote_as_given_with_commas_and_backslashes_escaped),
	TEST_ENTRY(probe_is_taken_out_and_probe_readonly_needs_it),
	TEST_ENTRY(escape_hatches_are_ours_and_off_by_default),
	TEST_ENTRY(a_mode_is_octal_up_to_7777),
	TEST_ENTRY(bad_modes_are_refused_with_a_clear_message),
	TEST_ENTRY(escape_hatches_without_effect_together_are_refused),
	TEST_ENTRY(a_rate_is_bytes_per_second_with_binary_units),
	TEST_ENTRY(bad_rates_are_refused),
};

CHECK_MAIN(cases)
