package org.livemig.config.cli;

/**
 * migratectl's longer help texts, where the options that share them can reach them (annotation
 * values must be constants). picocli reads them as format strings: %n is a line break, %% a %.
 */
final class HelpText {
  private HelpText() {}

  static final String URL = "the operator HTTP address of a node (one with livemig.http.port set), http:// or "
      + "https://. Default: $LIVEMIG_URL (or $MIGRATECTL_URL, its older name), else url in the config file, else "
      + Settings.DEFAULT_URL;

  static final String TOKEN_FILE = "the bearer token: a file with the token alone on a line, or ROLE TOKEN lines as a "
      + "node writes them (the first is used). Default: $LIVEMIG_TOKEN (the token itself), else token-file in the "
      + "config file, else ./data/operator-credentials if it exists (what a node started in this directory wrote). A "
      + "token is never taken from the command line itself: it would show in the process list.";

  static final String CA_FILE = "for https: the CA certificate (PEM) to trust. Default: $LIVEMIG_CA_FILE, else "
      + "ca-file in the config file, else ./data/keys/ca.crt if it exists (the development CA of nodes started in this "
      + "directory), else the JDK's trusted CAs";

  static final String TIMEOUT = "for each request, e.g. 60s, 2m or 1m30s. Default: timeout in the config file, else "
      + Settings.DEFAULT_TIMEOUT;

  static final String CONFIG = "the config file (see Settings in migratectl --help). Default: $LIVEMIG_CONFIG, else "
      + "migratectl.conf in ~/.config/livemig (in $XDG_CONFIG_HOME/livemig when that is set) if it exists";

  static final String[] SETTINGS = {
      "",
      "Settings: each of --url, --token-file, --ca-file and --timeout is the first found of",
      "  1. the command line (before or after the command),",
      "  2. the environment: LIVEMIG_URL (or MIGRATECTL_URL, its older name), LIVEMIG_TOKEN (the",
      "     token itself, not a file), LIVEMIG_CA_FILE,",
      "  3. the config file: --config FILE, else $LIVEMIG_CONFIG, else",
      "     ~/.config/livemig/migratectl.conf if it exists,",
      "  4. the default (see each option).",
      "The config file holds KEY = VALUE lines with the keys url, token-file, ca-file and timeout;",
      "lines starting with # are comments. Relative paths in it are relative to its directory, and",
      "~/ is $HOME. For example:",
      "  url = https://10.0.0.5:8558",
      "  token-file = ~/.config/livemig/operator.token",
      "  ca-file = /etc/livemig/ca.crt",
      "A bad line stops every command (exit 2) with one line naming the file and line."};

  static final String[] SUBCOMMAND_FOOTER = {
      "",
      "--url, --token-file, --ca-file, --timeout and --config may come before or after the command;",
      "`migratectl --help` says where their defaults come from and lists the exit codes."};
}
