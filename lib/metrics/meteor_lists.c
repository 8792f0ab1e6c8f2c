/* Word lists METEOR 1.5 ships for English: the function words that its
 * scorer weights by (1 - delta) and the Moses nonbreaking prefixes its
 * normalizer keeps dots on. Data, kept here so METEOR needs no jar. */
#include <stddef.h>

#include "metrics/meteor_internal.h"

const char *const mv_function_words_en[] = {
    "the", ",", ".", "to", "of", "and", "a", "in", "that", "for", "\"", "is", "on", "'s", "it",
    "with", "was", "as", "said", "at", "he", "by", "be", "from", "have", "has", "are", "his",
    "but", "an", "this", "not", "i", "will", "\xe2\x80\x99", "they", ")", "-rrb-", "(", "-lrb-",
    "who", "their", "had", "we", "which", "were", "been", "more", "or", "s", "its", "would",
    "about", "new", "one", "after", "you", ":", "also", "up", "when", "there", "than", "$", "all",
    "out", "her", "people", "she", "year", "two", "-", "can", "if", "last", "first",
    "\xe2\x80\x9c", "over", "other", "\xe2\x80\x9d", "into", "some", "what", "so", "--", "no",
    "time", "years", "could", "?", "'t", "\xe2\x80\x94", "'", NULL};

const mv_nbp mv_nonbreaking_en[] = {
    {"A", false},     {"B", false},    {"C", false},     {"D", false},     {"E", false},
    {"F", false},     {"G", false},    {"H", false},     {"I", false},     {"J", false},
    {"K", false},     {"L", false},    {"M", false},     {"N", false},     {"O", false},
    {"P", false},     {"Q", false},    {"R", false},     {"S", false},     {"T", false},
    {"U", false},     {"V", false},    {"W", false},     {"X", false},     {"Y", false},
    {"Z", false},     {"Adj", false},  {"Adm", false},   {"Adv", false},   {"Asst", false},
    {"Bart", false},  {"Bldg", false}, {"Brig", false},  {"Bros", false},  {"Capt", false},
    {"Cmdr", false},  {"Col", false},  {"Comdr", false}, {"Con", false},   {"Corp", false},
    {"Cpl", false},   {"DR", false},   {"Dr", false},    {"Drs", false},   {"Ens", false},
    {"Gen", false},   {"Gov", false},  {"Hon", false},   {"Hr", false},    {"Hosp", false},
    {"Insp", false},  {"Lt", false},   {"MM", false},    {"MR", false},    {"MRS", false},
    {"MS", false},    {"Maj", false},  {"Messrs", false}, {"Mlle", false}, {"Mme", false},
    {"Mr", false},    {"Mrs", false},  {"Ms", false},    {"Msgr", false},  {"Op", false},
    {"Ord", false},   {"Pfc", false},  {"Ph", false},    {"Prof", false},  {"Pvt", false},
    {"Rep", false},   {"Reps", false}, {"Res", false},   {"Rev", false},   {"Rt", false},
    {"Sen", false},   {"Sens", false}, {"Sfc", false},   {"Sgt", false},   {"Sr", false},
    {"St", false},    {"Supt", false}, {"Surg", false},  {"v", false},     {"vs", false},
    {"i.e", false},   {"rev", false},  {"e.g", false},   {"No", true},     {"Nos", false},
    {"Art", true},    {"Nr", false},   {"pp", true},     {NULL, false}};
