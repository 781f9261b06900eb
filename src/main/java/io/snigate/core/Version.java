package io.snigate.core;

/** snigate's version, from the jar's manifest; {@code dev} when run from classes (tests, an IDE). */
public final class Version {
    private Version() {}

    public static String current() {
        String version = Version.class.getPackage().getImplementationVersion();
        return version == null ? "dev" : version;
    }
}
