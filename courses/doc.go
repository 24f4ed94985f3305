// Package courses owns the training courses for multipliers (job-centre
// staff, counsellors, trainers): what a course is about and in which
// languages it is described, whether it is held online or on site, its
// dates, its seats, who signed up for it and the waiting list that moves
// up by itself when a seat frees up, and a course's dates as an
// iCalendar (RFC 5545) entry.
//
// It stores its state in a kv.Store and knows nothing of HTTP. Whether an
// account may edit courses or see a roster is the caller's business;
// whether an account may be named as a course's trainer is asked through
// Options.IsTrainer. Wrong input is reported as an *InputError whose Code
// is a stable reason the web layer translates.
//
// # Storage and consistency
//
// A course and its roster (the booked and the waiting entries) live in one
// value, "course:ID", and every change to either goes through kv.Update, an
// atomic read-modify-write on both the embedded store and Redis. Seats,
// cancellation and sign-ups are therefore decided together: concurrent
// sign-ups can never overbook a course, lowering the seats below the
// number booked is refused atomically, and a freed seat goes to the first
// person waiting in the same step that frees it. As long as a course is
// not cancelled, nobody waits while a seat is free.
//
// Each account also has a set "course-signups:ACCOUNT" of the course IDs
// it signed up for (booked or waiting), an index for CoursesOf. The roster
// is the truth and the set only an index kept as a superset of it: a
// course ID is added to the set before the sign-up is written to the
// roster (and again after it, so that a concurrent cancellation by the
// same person cannot leave it out) and removed only after the entry has
// left the roster. A crash in between leaves at most a stale ID, which
// CoursesOf drops by checking the roster. ForgetAccount does not rely on
// the index at all: it looks at every course.
package courses
